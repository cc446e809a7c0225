"""Hidden tests for exercise 5: transforms, training and evaluation loops, the cosine learning
rate and checkpoints (20 points).

The student's functions run in the worker on objects the tests build there: a small classifier
``Sequential(Linear(4, 8), BatchNorm1d(8), ReLU(), Linear(8, classes))`` with weights sent from
here, a ``RecordingLoader`` over tensors sent from here (batches in order, each move to a device
recorded), ``CrossEntropyLoss`` and ``SGD``. The trusted side runs the same epoch on its own copy of
the model (same initial weights, same batches in the same order, same optimizer) and compares the
weights, buffers and returned numbers. Modes and gradient switches are observed with
``tools.Probe``; transforms are compared with the pad/crop/flip/normalise computation written out
here; checkpoint files are read here with ``torch.load(..., weights_only=True)``. Every assertion
message is the feedback a student sees.
"""

from __future__ import annotations

import contextlib
import io
import math
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, example, given, settings
from strategies import cosine_lr_args, ex5_epoch_sizes, ex5_logit_scales, ex5_num_classes, ex5_seeds

from autograder.testing import StudentError, StudentImportError, call_keep, called_as, student_raises, type_name

pytestmark = pytest.mark.exercise("ex5")

_EXAMPLES = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Weights after a few SGD steps, computed in two processes (the worker uses one thread).
_RTOL, _ATOL = 1e-4, 1e-5

#: CIFAR-10's per-channel statistics as the stub gives them, and how far a submission's may be:
#: each mean within 0.02 and each std within 0.07, so that the other widely quoted values (std
#: (0.2023, 0.1994, 0.2010)) pass while ImageNet's (mean (0.485, 0.456, 0.406)) and 0.5 do not.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
_MEAN_TOL, _STD_TOL = 0.02, 0.07
_KNOWN_STATISTICS = (
    ("ImageNet's statistics (mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)), not CIFAR-10's",
     (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ("mean 0.5 and std 0.5: that maps [0, 1] to [-1, 1] but is not CIFAR-10's statistics",
     (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ("no normalisation at all: ToTensor's values in [0, 1], Normalize is missing", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    ("mean and std swapped: Normalize takes (mean, std) in that order", CIFAR10_STD, CIFAR10_MEAN),
)
_STATISTICS_RULE = (
    "transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD) with the constants of the stub, mean "
    "(0.4914, 0.4822, 0.4465) and std (0.2470, 0.2435, 0.2616) (each mean may be off by up to 0.02 "
    "and each std by up to 0.07, so the also widely used std (0.2023, 0.1994, 0.2010) is fine)"
)
_TRAIN_ORDER = (
    "transforms.Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(), "
    "Normalize(CIFAR10_MEAN, CIFAR10_STD)])"
)
_TEST_ORDER = "transforms.Compose([ToTensor(), Normalize(CIFAR10_MEAN, CIFAR10_STD)])"

#: Residual (in normalised units) under which a transform's output counts as an exact per-channel
#: normalisation of a candidate crop; one pixel step is 1/255/std, about 0.016.
_MATCH_TOL = 1e-3


# --- helpers: values ----------------------------------------------------------------------------


@contextlib.contextmanager
def _one_thread():
    """Small tensor maths here runs 10x faster on one thread than on several competing for a busy
    machine (OpenMP threads spin waiting for each other)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _kind(obj: object) -> str:
    try:
        return type_name(obj)
    except ImportError:  # pragma: no cover - the engine's proxy module is not there
        return type(obj).__name__


def _a(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _as_number(value: object, what: str) -> float:
    """A float from what the student returned (a Python number, or a one-element tensor)."""
    if value is None:
        raise AssertionError(f"{what} returned None: the function must return a float (is a `return` missing?)")
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        shape = f" of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else ""
        raise AssertionError(f"{what} returned {_a(_kind(value))}{shape}, expected a float (one number)")
    return float(value)


def _assert_not_tensor(result: object, what: str, how: str) -> None:
    """The API returns a float: a tensor (even a one-element one) is not one."""
    assert not isinstance(result, torch.Tensor), (
        f"{what} returned a tensor ({result!r}), expected a Python float, as the signature says (-> float): "
        f"a tensor prints as tensor(...) in logs, cannot be written to JSON, and one on the GPU holds GPU "
        f"memory. Use {how}, or call .item() on the result")


# --- helpers: the small model, its weights and data ----------------------------------------------


def _mlp(nn, num_classes: int = 3, batch_norm: bool = True):
    """The test model, built with ``nn`` = ``torch.nn`` here or ``student.torch.nn`` in the worker."""
    layers = [nn.Linear(4, 8)] + ([nn.BatchNorm1d(8)] if batch_norm else []) + [nn.ReLU(), nn.Linear(8, num_classes)]
    return nn.Sequential(*layers)


def _mlp_text(num_classes: int = 3, batch_norm: bool = True) -> str:
    bn = "BatchNorm1d(8), " if batch_norm else ""
    return f"Sequential(Linear(4, 8), {bn}ReLU(), Linear(8, {num_classes}))"


def _random_state(num_classes: int = 3, batch_norm: bool = True, seed: int = 0) -> dict[str, torch.Tensor]:
    """Weights and buffers for ``_mlp`` from ``seed``: He-uniform linear weights, clearly non-zero
    biases, batch-norm scales and running statistics away from their defaults."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in _mlp(torch.nn, num_classes, batch_norm).state_dict().items():
        shape = value.shape
        if key.endswith("num_batches_tracked"):
            state[key] = value.clone()
        elif key.endswith("running_mean"):
            state[key] = torch.randn(shape, generator=g) * 0.5
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        elif key.startswith("1.") and batch_norm:  # batch-norm weight and bias
            state[key] = torch.rand(shape, generator=g) + 0.5 if key.endswith("weight") else torch.randn(shape, generator=g) * 0.3
        elif key.endswith("weight"):
            state[key] = (torch.rand(shape, generator=g) * 2 - 1) * math.sqrt(6.0 / shape[1])
        else:
            state[key] = (torch.rand(shape, generator=g) * 2 - 1) * 0.5
    return state


def _worker_mlp(student, state: dict[str, torch.Tensor], num_classes: int = 3, batch_norm: bool = True):
    net = _mlp(student.torch.nn, num_classes, batch_norm)
    net.load_state_dict(state)
    return net


def _trusted_mlp(state: dict[str, torch.Tensor], num_classes: int = 3, batch_norm: bool = True):
    net = _mlp(torch.nn, num_classes, batch_norm)
    net.load_state_dict(state)
    return net


def _worker_state(student, net) -> dict[str, torch.Tensor]:
    return net.state_dict()


def _data(n: int, seed: int, num_classes: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g), torch.randint(0, num_classes, (n,), generator=g)


def _is_param(key: str) -> bool:
    return not any(part in key for part in ("running_mean", "running_var", "num_batches_tracked"))


def _states_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], params_only: bool = False) -> bool:
    keys = [k for k in b if _is_param(k) or not params_only]
    return all(k in a and a[k].shape == b[k].shape
               and torch.allclose(a[k].double(), b[k].double(), rtol=_RTOL, atol=_ATOL) for k in keys)


def _largest_difference(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> tuple[str, float]:
    diffs = {k: (got[k].double() - expected[k].double()).abs().max().item()
             for k in expected if k in got and got[k].shape == expected[k].shape}
    key = max(diffs, key=diffs.get)
    return key, diffs[key]


# --- helpers: one epoch, in the worker and here ------------------------------------------------------


def _opt_text(opt_kwargs: dict) -> str:
    return "SGD(" + ", ".join(f"{k}={v}" for k, v in opt_kwargs.items()) + ")"


def _epoch_text(n: int, batch_size: int, opt_kwargs: dict, num_classes: int = 3, batch_norm: bool = True,
                smoothing: float = 0.0) -> str:
    sizes = [min(batch_size, n - s) for s in range(0, n, batch_size)]
    return (f"train_one_epoch(model, loader, criterion, optimizer) with model = "
            f"{_mlp_text(num_classes, batch_norm)}, a loader of {n} samples in {len(sizes)} "
            f"batch{'es' if len(sizes) > 1 else ''} of {batch_size}{_last_batch(n, batch_size)}, "
            f"criterion = CrossEntropyLoss({f'label_smoothing={smoothing}' if smoothing else ''}) and "
            f"optimizer = {_opt_text(opt_kwargs)}")


def _last_batch(n: int, batch_size: int) -> str:
    """", the last one of 2" when ``n`` samples end in a smaller batch, else ""."""
    last = n % batch_size if n > batch_size else 0
    return f", the last one of {last}" if last else ""


def _epoch_call(n: int, batch_size: int, device: bool = False) -> str:
    """The call in words, for the feedback on an exception the student's loop raises."""
    return (f"train_one_epoch(model, loader, criterion, optimizer{', device' if device else ''}) on a loader "
            f"of {n} samples in batches of {batch_size}{_last_batch(n, batch_size)}")


def _student_epoch(student, net, x, y, batch_size: int, opt_kwargs: dict, *device, keep: bool = True,
                   smoothing: float = 0.0, criterion=None):
    """Build loader, loss (cross-entropy with ``smoothing``, unless ``criterion`` is given) and
    optimizer in the worker and run the student's epoch on them. With ``keep`` the returned value
    stays in the worker: tests of the weights do not depend on it."""
    loader = student.tools.RecordingLoader(x, y, batch_size)
    if criterion is None:
        criterion = student.torch.nn.CrossEntropyLoss(label_smoothing=smoothing)
    optimizer = student.torch.optim.SGD(call_keep(net.parameters), **opt_kwargs)
    args = (net, loader, criterion, optimizer, *device)
    train_one_epoch = student.ex5_training.train_one_epoch
    with called_as(_epoch_call(len(x), batch_size, bool(device))):
        result = call_keep(train_one_epoch, *args) if keep else train_one_epoch(*args)
    return result, loader


def _trusted_epoch(net, x, y, batch_size: int, opt_kwargs: dict, *, zero_grad: bool = True,
                   train_mode: bool = True, smoothing: float = 0.0,
                   clip: float | None = None, softmax: bool = False) -> tuple[list[float], list[int]]:
    """The epoch the spec describes, with knobs for the common mistakes; returns each batch's mean
    loss and size."""
    net.train(train_mode)
    optimizer = torch.optim.SGD(net.parameters(), **opt_kwargs)
    losses, sizes = [], []
    with _one_thread():
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            if zero_grad:
                optimizer.zero_grad()
            outputs = net(xb)
            loss = F.cross_entropy(outputs.softmax(dim=1) if softmax else outputs, yb, label_smoothing=smoothing)
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
            optimizer.step()
            losses.append(loss.item())
            sizes.append(len(xb))
    return losses, sizes


def _expected_state(initial, x, y, batch_size, opt_kwargs, batch_norm=True, **knobs):
    net = _trusted_mlp(initial, batch_norm=batch_norm)
    _trusted_epoch(net, x, y, batch_size, opt_kwargs, **knobs)
    return net.state_dict(), net


def _epoch_diagnosis(got, initial, x, y, batch_size, opt_kwargs, batch_norm=True, smoothing=0.0) -> str:
    """Name the well-known mistake whose weights the student's loop produced, if any."""
    if _states_close(got, initial, params_only=True):
        return (" Your loop did not change the weights at all: optimizer.step() must come after "
                "loss.backward() (a step before backward() finds no gradient), and zero_grad() must "
                "not sit between backward() and step() (it wipes the gradients step() needs).")
    mistakes = (
        ("gradients accumulate over the batches: call optimizer.zero_grad() once per batch, before "
         "backward() (or after step()), or each step also applies every earlier batch's gradient",
         dict(zero_grad=False)),
        ("the model stays in eval mode: call model.train() at the start of the epoch (batch norm "
         "must use the batch's statistics and update its running averages)", dict(train_mode=False)),
        ("the criterion gets softmax probabilities (criterion(outputs.softmax(dim=1), labels)): "
         "CrossEntropyLoss applies log-softmax itself, so give it the model's raw outputs (logits)",
         dict(softmax=True)),
    ) + ((("the loss is plain cross-entropy instead of the criterion you were given: compute loss = "
           "criterion(outputs, labels) with the criterion argument (here a CrossEntropyLoss with "
           "label smoothing)", dict(smoothing=0.0)),) if smoothing else ()) + tuple(
        (f"the gradients are clipped to a norm of {clip:g} (clip_grad_norm_): the spec's step is a plain "
         "optimizer.step() on the whole gradient", dict(clip=clip)) for clip in (1.0, 5.0, 10.0))
    for text, knobs in mistakes:
        state, _ = _expected_state(initial, x, y, batch_size, opt_kwargs, batch_norm,
                                   **{"smoothing": smoothing, **knobs})
        if _states_close(got, state):
            return f" Your weights are exactly what the loop gives when {text}."
    return (" Per batch the loop must: move inputs and labels to the device, optimizer.zero_grad(), "
            "outputs = model(inputs), loss = criterion(outputs, labels), loss.backward(), "
            "optimizer.step(), in this order, once per batch, over the batches in the loader's order.")


def _assert_epoch_state(got, expected, initial, x, y, batch_size, opt_kwargs, what, batch_norm=True,
                        smoothing=0.0) -> None:
    if _states_close(got, expected):
        return
    key, diff = _largest_difference(got, expected)
    raise AssertionError(
        f"{what}: after the epoch your model's state differs from one epoch of SGD as the spec "
        f"describes it (largest difference {diff:.3g}, in {key!r})."
        + _epoch_diagnosis(got, initial, x, y, batch_size, opt_kwargs, batch_norm, smoothing))


# --- cifar10_transforms ---------------------------------------------------------------------------


#: Flips expected among 100 seeded training transforms: 50 +- 20, four standard deviations of a
#: Binomial(100, 0.5) (outside with probability 6e-5), where p = 0.2 or 0.8 lands 20 +- 4 or 80 +- 4.
_FLIPS_PER_100 = (30, 70)


def _pixels(seed: int) -> torch.Tensor:
    """A random 32x32 RGB image as uint8 (H, W, 3), as CIFAR-10 stores them."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (32, 32, 3), generator=g, dtype=torch.uint8)


class _Candidates:
    """Every output of RandomCrop(32, padding=4) + RandomHorizontalFlip before normalisation:
    ToTensor's (3, 32, 32) values of a 32x32 window of the image padded by 4 black pixels, at
    shift (dy, dx) in [-4, 4]^2, flipped or not. 162 candidates, the unaugmented image first.

    :meth:`fit` finds, for an output ``out``, the candidate ``c`` and the per-channel (mean, std)
    with ``out = (c - mean) / std`` closest in least squares, whatever the statistics were."""

    def __init__(self, pixels: torch.Tensor):
        with _one_thread():
            self._build(pixels)

    def _build(self, pixels: torch.Tensor) -> None:
        base = pixels.permute(2, 0, 1).to(torch.float64) / 255
        padded = F.pad(base, (4, 4, 4, 4))
        crops, self.labels = [], []
        for flipped in (False, True):
            for dy, dx in [(0, 0)] + [(a, b) for a in range(-4, 5) for b in range(-4, 5) if (a, b) != (0, 0)]:
                crop = padded[:, 4 + dy:36 + dy, 4 + dx:36 + dx]
                crops.append(crop.flip(-1) if flipped else crop)
                self.labels.append((dy, dx, flipped))
        inside = F.pad(torch.ones(32, 32, dtype=torch.bool), (4, 4, 4, 4))
        self.inside = torch.stack([
            (inside[4 + dy:36 + dy, 4 + dx:36 + dx].flip(-1) if flipped else inside[4 + dy:36 + dy, 4 + dx:36 + dx]).reshape(-1)
            for dy, dx, flipped in self.labels])  # (K, P): True where the pixel comes from the image
        c = torch.stack(crops).reshape(len(crops), 3, -1)  # (K, 3, P)
        self.mean = c.mean(-1)  # (K, 3)
        self.centred = (c - self.mean.unsqueeze(-1)).permute(1, 0, 2).contiguous()  # (3, K, P)
        self.var = (self.centred ** 2).mean(-1).clamp_min(1e-12)  # (3, K)

    def fit(self, out: torch.Tensor, index: int | None = None):
        """``(index, residual, mean, std)`` for candidate ``index``, or for the best one: the largest
        |difference| of the fit and the per-channel statistics it implies."""
        with _one_thread():
            return self._fit(out, index)

    def padding_value(self, out: torch.Tensor) -> float | None:
        """When ``out`` is an exact normalised crop everywhere except in the padding, the value
        the padding has there (the padding was added after normalising); else None."""
        with _one_thread():
            y = out.to(torch.float64).reshape(3, -1)
            for k in range(len(self.labels)):
                mask = self.inside[k]
                if mask.all():
                    continue
                c = (self.centred[:, k] + self.mean[k].unsqueeze(-1))[:, mask]
                yk = y[:, mask]
                cm, ym = c.mean(-1, keepdim=True), yk.mean(-1, keepdim=True)
                slope = ((c - cm) * (yk - ym)).mean(-1, keepdim=True) / ((c - cm) ** 2).mean(-1, keepdim=True).clamp_min(1e-12)
                if (slope * (c - cm) + ym - yk).abs().max() <= _MATCH_TOL:
                    return float(y[:, ~mask].mean())
        return None

    def _fit(self, out: torch.Tensor, index: int | None):
        y = out.to(torch.float64).reshape(3, -1)
        ym = y.mean(-1, keepdim=True)
        yc = y - ym
        cov = torch.bmm(self.centred, yc.unsqueeze(-1)).squeeze(-1) / y.shape[-1]  # (3, K)
        if index is None:
            sse = ((yc ** 2).mean(-1, keepdim=True) - cov ** 2 / self.var).sum(0)  # (K,)
            index = int(sse.argmin())
        slope = cov[:, index] / self.var[:, index]
        intercept = ym.squeeze(-1) - slope * self.mean[index]
        fitted = slope.unsqueeze(-1) * (self.centred[:, index] + self.mean[index].unsqueeze(-1)) + intercept.unsqueeze(-1)
        residual = float((fitted - y).abs().max())
        slope = torch.where(slope.abs() < 1e-9, torch.full_like(slope, 1e-9), slope)
        return index, residual, -intercept / slope, 1 / slope


def _fmt(values) -> str:
    return "(" + ", ".join(f"{round(float(v), 4) + 0.0:.4f}" for v in values) + ")"


def _statistics_problem(mean: torch.Tensor, std: torch.Tensor) -> str | None:
    """None when (mean, std) are CIFAR-10's within the tolerances, else what is wrong."""
    ok_mean = all(abs(float(m) - e) <= _MEAN_TOL for m, e in zip(mean, CIFAR10_MEAN))
    ok_std = all(abs(float(s) - e) <= _STD_TOL for s, e in zip(std, CIFAR10_STD))
    if ok_mean and ok_std:
        return None
    text = f"the output is (x - mean) / std with mean {_fmt(mean)} and std {_fmt(std)} per channel"
    for name, known_mean, known_std in _KNOWN_STATISTICS:
        if all(abs(float(m) - k) < 2e-3 for m, k in zip(mean, known_mean)) and all(
                abs(float(s) - k) < 2e-3 for s, k in zip(std, known_std)):
            text += f", which is {name}"
            break
    return f"{text}. Normalise with {_STATISTICS_RULE}"


def _get_transform(student, train: bool):
    tf = student.ex5_training.cifar10_transforms(train)
    if isinstance(tf, (list, tuple)) or tf is None:
        raise AssertionError(
            f"cifar10_transforms({train}) returned {'None' if tf is None else _a(type(tf).__name__)}, expected "
            "one callable transform: wrap the steps in transforms.Compose([...]) and return it")
    return tf


def _transform_output(tf, img, what: str) -> torch.Tensor:
    try:
        out = tf(img)
    except StudentError as exc:
        raise AssertionError(
            f"{what} raised {exc.type_name}: {exc.message}. The transform gets a PIL image, as "
            "torchvision's CIFAR10 data set hands it over: PIL transforms (RandomCrop, "
            "RandomHorizontalFlip) come before ToTensor(), and Normalize, which works on tensors, "
            "after it" + (f"\n{exc.traceback}" if exc.traceback else "")) from None
    if not isinstance(out, torch.Tensor):
        raise AssertionError(f"{what} returned {_a(_kind(out))}, expected a float tensor of shape (3, 32, 32): "
                             "end the Compose with ToTensor() and Normalize(...)")
    assert tuple(out.shape) == (3, 32, 32) and out.is_floating_point(), (
        f"{what} returned a {out.dtype} tensor of shape {tuple(out.shape)}, expected a float tensor of "
        "shape (3, 32, 32) (channels first, as ToTensor() makes it)")
    return out


def _describe_match(label: tuple[int, int, bool]) -> str:
    dy, dx, flipped = label
    parts = []
    if (dy, dx) != (0, 0):
        parts.append(f"shifted by ({dy}, {dx}) pixels (a random crop of the padded image)")
    if flipped:
        parts.append("flipped left to right")
    return " and ".join(parts) or "unchanged"


@pytest.mark.points(1)
def test_transforms_test_is_to_tensor_and_normalize(student):
    _get_transform(student, True)  # built first, as a training script does: it must not change the test one
    tf = _get_transform(student, False)
    for image_seed in (11, 12):
        pixels = _pixels(image_seed)
        img = student.tools.pil_image(pixels)
        candidates = _Candidates(pixels)
        for seed in range(5):
            student.tools.seed(seed)
            what = "cifar10_transforms(False) (the test transform) on a random 32x32 RGB PIL image"
            out = _transform_output(tf, img, what)
            _, residual, mean, std = candidates.fit(out, index=0)
            if residual > _MATCH_TOL:
                best, best_residual, _, _ = candidates.fit(out)
                if best_residual <= _MATCH_TOL:
                    raise AssertionError(
                        f"{what}: the output is the image {_describe_match(candidates.labels[best])}, so the test "
                        f"transform augments. Augmentation is for training only; the test transform must "
                        f"be deterministic: {_TEST_ORDER}")
                raise AssertionError(
                    f"{what}: the output is not the image converted with ToTensor() and normalised per "
                    f"channel as (x - mean) / std. The test transform is {_TEST_ORDER}")
            problem = _statistics_problem(mean, std)
            assert problem is None, f"{what}: {problem}"


def _train_outputs(student, pixels, seeds, what):
    """``(label of the matching candidate or None, fitted mean, std, hint)`` for each seed."""
    tf = _get_transform(student, True)
    img = student.tools.pil_image(pixels)
    candidates = _Candidates(pixels)
    found = []
    for seed in seeds:
        student.tools.seed(seed)
        out = _transform_output(tf, img, what)
        best, residual, mean, std = candidates.fit(out)
        if residual <= _MATCH_TOL:
            found.append((candidates.labels[best], mean, std, ""))
            continue
        padding = candidates.padding_value(out)
        hint = "" if padding is None else (
            f" Yours is such a crop except for the padding, which has the value {padding:.3g} instead "
            "of black: the padding was added after Normalize (to a tensor, where 0 is the mean colour). "
            "Crop and flip the PIL image before ToTensor() and Normalize") if abs(padding) < 1e-6 else (
            f" Yours is such a crop except for the padding, which is not black (it has the value "
            f"{padding:.3g} after normalising): RandomCrop(32, padding=4) pads with fill=0, black, "
            "the default")
        found.append((None, mean, std, hint))
    return found


@pytest.mark.points(1)
def test_transforms_train_is_padded_crop_flip_and_normalize(student):
    what = "cifar10_transforms(True) (the training transform) on a random 32x32 RGB PIL image"
    for image_seed in (21, 22):
        for label, mean, std, hint in _train_outputs(student, _pixels(image_seed), range(6), what):
            assert label is not None, (
                f"{what}: the output is not a 32x32 crop of the image padded with 4 black pixels on each "
                "side (at a shift of at most 4 pixels), flipped left to right or not, converted with "
                f"ToTensor() and normalised per channel. The training transform is {_TRAIN_ORDER}: crop "
                "and flip the PIL image first (padding with black, fill 0, the default), then convert "
                "and normalise. Normalising before the crop pads with the wrong value; reflect padding "
                "or RandomResizedCrop make other images." + hint)
            problem = _statistics_problem(mean, std)
            assert problem is None, f"{what}: {problem}"


@pytest.mark.points(1)
def test_transforms_train_is_random_with_flips_and_shifts(student):
    what = "cifar10_transforms(True) (the training transform), applied to one image after 100 different seeds"
    found = _train_outputs(student, _pixels(31), range(100), what)
    labels = [label for label, _, _, _ in found]
    hint = next((h for _, _, _, h in found if h), "")
    assert all(label is not None for label in labels), (
        f"{what}: some outputs are not a crop of the image padded by 4 black pixels, flipped or not. "
        f"The training transform is {_TRAIN_ORDER}." + hint)
    flips = {flipped for _, _, flipped in labels}
    shifts = {(dy, dx) for dy, dx, _ in labels}
    assert flips == {False, True}, (
        f"{what} {'always' if flips == {True} else 'never'} flipped the image: RandomHorizontalFlip() "
        "flips half of the images, at random (p=0.5, the default)")
    flipped = sum(1 for _, _, f in labels if f)
    low, high = _FLIPS_PER_100
    assert low <= flipped <= high, (
        f"{what} flipped {flipped} of the 100 images: RandomHorizontalFlip() flips each image with "
        f"probability 0.5 (the default p), so between {low} and {high} flips are expected (a flip "
        "probability of 0.5 falls outside that range less than once in 10,000 runs)")
    assert len(shifts) >= 5, (
        f"{what} gave only {len(shifts)} different crop position(s), {sorted(shifts)} (shift in pixels): "
        "RandomCrop(32, padding=4) pads the 32x32 image to 40x40 and takes a 32x32 crop at a random "
        "position; without padding a 32x32 crop of a 32x32 image is the image itself")
    largest = max(max(abs(dy), abs(dx)) for dy, dx in shifts)
    assert largest == 4, (
        f"{what} never shifted the image by more than {largest} pixels: with padding=4 the crop "
        "can start anywhere from 4 pixels up/left to 4 pixels down/right of the original position")
    # each direction reaches 4 (a correct crop misses one in 100 images with probability 2 * (7/9)**100)
    for axis, name in ((0, "vertically"), (1, "horizontally")):
        reach = max(abs(shift[axis]) for shift in shifts)
        assert reach == 4, (
            f"{what} never shifted the image {name} by more than {reach} pixels: RandomCrop(32, padding=4) "
            "pads all four sides by 4 (padding=(4, 0) pads left/right only), so the crop moves up to 4 "
            "pixels in both directions")


# --- train_one_epoch -------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_train_one_epoch_sets_train_mode(student):
    state = _random_state(seed=101)
    x, y = _data(10, seed=102)
    net = _worker_mlp(student, state)
    probe = student.tools.Probe(net)
    probe.eval()  # as evaluate leaves it
    opt_kwargs = dict(lr=0.1)
    loader = student.tools.RecordingLoader(x, y, 4)
    optimizer = student.torch.optim.SGD(call_keep(net.parameters), **opt_kwargs)
    with called_as(_epoch_call(10, 4)):
        call_keep(student.ex5_training.train_one_epoch, probe, loader, student.torch.nn.CrossEntropyLoss(), optimizer)
    log = probe.log
    what = (_epoch_text(10, 4, opt_kwargs) + ", on a model left in eval mode (as evaluate leaves it)")
    assert log, f"{what}: your loop never called the model"
    in_eval = sum(1 for _, mode in log if mode is False)
    assert in_eval == 0, (
        f"{what}: {in_eval} of the {len(log)} forward passes ran in eval mode. Call model.train() at the "
        "start of train_one_epoch: the model may come from evaluate(), which switched it to eval mode, "
        "and dropout and batch norm behave differently in the two modes")
    mixed = sum(1 for _, mode in log if mode is None)
    assert mixed == 0, (
        f"{what}: in {mixed} of the {len(log)} forward passes the model's layers were still in eval mode "
        "while the model itself was in train mode. model.training = True changes only the model's own "
        "flag; model.train() switches every layer (batch norm and dropout included)")
    # every batch, a last batch of a single sample included (no batch norm here, so it can train)
    x, y = _data(9, seed=103)
    net = _worker_mlp(student, _random_state(batch_norm=False, seed=104), batch_norm=False)
    probe = student.tools.Probe(net)
    loader = student.tools.RecordingLoader(x, y, 4)
    optimizer = student.torch.optim.SGD(call_keep(net.parameters), **opt_kwargs)
    with called_as(_epoch_call(9, 4)):
        call_keep(student.ex5_training.train_one_epoch, probe, loader, student.torch.nn.CrossEntropyLoss(), optimizer)
    what = _epoch_text(9, 4, opt_kwargs, batch_norm=False)
    modes = [mode for _, mode in probe.log]
    assert modes and all(mode is True for mode in modes), (
        f"{what}: the model was in train mode for the forward passes {modes} (True: train mode). Every "
        "batch trains in train mode, a batch of one included: batch norm's \"Expected more than 1 value "
        "per channel\" is avoided by the DataLoader's drop_last=True, not by switching to eval mode")
    # with batch norm, the last batch of one must reach the model in train mode, where batch norm
    # refuses it: a loop that returns normally switched it to eval mode or skipped it
    x, y = _data(9, seed=105)
    net = _worker_mlp(student, _random_state(seed=106))
    probe = student.tools.Probe(net)
    loader = student.tools.RecordingLoader(x, y, 4)
    optimizer = student.torch.optim.SGD(call_keep(net.parameters), **opt_kwargs)
    try:
        student.ex5_training.train_one_epoch(probe, loader, student.torch.nn.CrossEntropyLoss(), optimizer)
        returned = True
    except StudentError:  # batch norm's "Expected more than 1 value per channel when training"
        returned = False
    what = _epoch_text(9, 4, opt_kwargs)
    modes = [mode for _, mode in probe.log]
    assert not returned and len(modes) == 3 and all(mode is True for mode in modes), (
        f"{what}: " + (f"the forward passes ran in the modes {modes} (True: train mode, None: some layers in "
                       "eval mode)" if any(mode is not True for mode in modes) else
                       f"the loop called the model {len(modes)} times for 3 batches and returned normally")
        + ". The last batch holds one sample, which batch norm refuses in train mode (\"Expected more than "
        "1 value per channel\"): the loop must train it like every other batch and let that error reach "
        "the caller, who fixes it with the DataLoader's drop_last=True; switching layers to eval mode or "
        "skipping (or catching the error of) a batch trains on something else than the data given")


@pytest.mark.points(1)
def test_train_one_epoch_steps_after_backward(student):
    state = _random_state(seed=111)
    x, y = _data(6, seed=112)
    opt_kwargs = dict(lr=0.5)
    net = _worker_mlp(student, state)
    _student_epoch(student, net, x, y, 8, opt_kwargs)
    got = _worker_state(student, net)
    expected, _ = _expected_state(state, x, y, 8, opt_kwargs)
    what = _epoch_text(6, 8, opt_kwargs) + ": one batch, so exactly one step w <- w - lr * grad"
    _assert_epoch_state(got, expected, state, x, y, 8, opt_kwargs, what)


@pytest.mark.points(1)
def test_train_one_epoch_zeroes_gradients_between_steps(student):
    state = _random_state(batch_norm=False, seed=121)
    x, y = _data(12, seed=122)
    x = x * 20  # gradient norms of 36 to 59: a step clipped to a norm (clip_grad_norm_) shows too
    opt_kwargs = dict(lr=0.2)
    net = _worker_mlp(student, state, batch_norm=False)
    _student_epoch(student, net, x, y, 4, opt_kwargs)
    what = _epoch_text(12, 4, opt_kwargs, batch_norm=False)
    got = _worker_state(student, net)
    expected, trusted = _expected_state(state, x, y, 4, opt_kwargs, batch_norm=False)
    _assert_epoch_state(got, expected, state, x, y, 4, opt_kwargs, what, batch_norm=False)
    # What is left in .grad: nothing (zero_grad after step) or the last batch's gradient alone.
    grads = student.tools.grad_summary(net)
    last = {name: float(p.grad.abs().sum()) for name, p in trusted.named_parameters()}
    for name, expected_sum in last.items():
        value = grads.get(name)
        assert value is None or abs(value) < 1e-7 or math.isclose(value, expected_sum, rel_tol=1e-3, abs_tol=1e-6), (
            f"{what}: after the epoch, {name}.grad holds more than the last batch's gradient (sum of "
            f"|grad| {value:.4g}, the last batch's alone is {expected_sum:.4g}): gradients accumulate "
            "across batches. Call optimizer.zero_grad() once per batch")


@pytest.mark.points(1)
def test_train_one_epoch_matches_sgd_with_momentum(student):
    state = _random_state(seed=131)
    x, y = _data(10, seed=132)
    opt_kwargs = dict(lr=0.05, momentum=0.9, weight_decay=5e-4)
    net = _worker_mlp(student, state)
    net.train()
    # the loss is the criterion it is given (label smoothing tells it from plain cross-entropy)
    _student_epoch(student, net, x, y, 4, opt_kwargs, smoothing=0.1)
    got = _worker_state(student, net)
    expected, _ = _expected_state(state, x, y, 4, opt_kwargs, smoothing=0.1)
    what = _epoch_text(10, 4, opt_kwargs, smoothing=0.1)
    _assert_epoch_state(got, expected, state, x, y, 4, opt_kwargs, what, smoothing=0.1)


#: The device the device tests pass: the CPU with its index, so that a batch sent to "cpu" by a
#: device the code picked itself (torch.cuda.is_available()) shows, not only a batch never moved.
_DEVICE = torch.device("cpu:0")


def _assert_moved(moves: list, unmoved: list, roles: tuple[str, ...], what: str, into: str) -> None:
    """Judged on evidence: a batch tensor (of ``roles``) that reached ``into`` as it came out of the
    loader was not moved, and a move sent somewhere else than _DEVICE went to the wrong device.
    (A batch that reached it changed in ways the record cannot follow, Variable(x) say, is given
    the benefit of the doubt.) Labels may go to any CPU device (labels.to(outputs.device) is a
    move to the device too)."""
    called = {(b, r) for b, r, d in moves if d is not None}
    used = sorted({(b, r) for b, r in unmoved if r in roles})
    never = [f"batch {b}'s {r}" for b, r in used if (b, r) not in called]
    assert not never, (
        f"{what}: these were never moved to the device: {', '.join(never)}. Move every batch, "
        f"{' and '.join(roles)}, with {_role_text(roles)} before the forward pass, whatever the device (here "
        "the CPU): on a GPU, the model's weights and the data must be on the same device")
    discarded = [f"batch {b}'s {r}" for b, r in used if (b, r) in called]
    assert not discarded, (
        f"{what}: {', '.join(discarded)} reached {into} as they came out of the loader, not moved: "
        "tensor.to(device) does not move the tensor in place, it returns the moved copy. Keep what it "
        "returns: inputs = inputs.to(device) (a bare inputs.to(device) line does nothing)")
    targets = {b: {d for bb, r, d in moves if bb == b and r == "inputs" and d is not None} for b in range(3)}
    elsewhere = [f"batch {b}'s inputs" for b, ds in targets.items() if ds and str(_DEVICE) not in ds]
    assert not elsewhere, (
        f"{what}: {', '.join(elsewhere)} went to {', '.join(sorted(set().union(*targets.values())))}, not to "
        f"the device given, {str(_DEVICE)!r}. Move the batches to the device argument (inputs.to(device)); do "
        "not pick a device yourself (torch.device('cuda' if torch.cuda.is_available() else 'cpu') belongs "
        "in the code that calls these functions, which passes it in)")


def _role_text(roles: tuple[str, ...]) -> str:
    return " and ".join(f"{role} = {role}.to(device)" for role in roles)


@pytest.mark.points(1)
def test_train_one_epoch_moves_batches_to_device(student):
    state = _random_state(seed=141)
    x, y = _data(10, seed=142)
    net = student.tools.Probe(_worker_mlp(student, state))
    criterion = student.tools.RecordingCriterion(student.torch.nn.CrossEntropyLoss())
    _, loader = _student_epoch(student, net, x, y, 4, dict(lr=0.1), _DEVICE, criterion=criterion)
    what = (_epoch_text(10, 4, dict(lr=0.1)).replace("optimizer)", "optimizer, device)", 1)
            + f" and device = torch.device({str(_DEVICE)!r})")
    _assert_moved(loader.moves(), net.unmoved + criterion.unmoved, ("inputs", "labels"), what,
                  "the model or the loss")
    net = _worker_mlp(student, state)
    _assert_default_device_is_cpu(student, "train_one_epoch", "train_one_epoch(model, loader, criterion, optimizer)",
                                  lambda fn, loader: fn(net, loader, student.torch.nn.CrossEntropyLoss(),
                                                        student.torch.optim.SGD(call_keep(net.parameters), lr=0.1)))


def _assert_default_device_is_cpu(student, fn: str, call: str, run) -> None:
    """Called without ``device``, the function keeps to the signature's default, "cpu", also
    where a GPU is available: the module is imported again as if on a machine with one, so a
    default picked when it is imported (device=DEVICE) or in the body shows. There is no GPU here:
    a move to one is recorded, then fails. A module whose top level cannot run so (a notebook's
    ``model = Net().to(device)``) is given the benefit of the doubt."""
    if not student.tools.reload_as_if_on_gpu(student.ex5_training):
        return
    loader = student.tools.RecordingLoader(*_data(6, seed=143), 3)
    what = (f"{call} without the device argument, where torch.cuda.is_available() is True (a machine "
            "with a GPU)")
    rule = (f"The handout's signature is {fn}(..., device=\"cpu\"): without a device argument the batches "
            "stay on the CPU. Choosing the GPU (torch.device('cuda' if torch.cuda.is_available() else "
            "'cpu')) belongs in the code that calls it, which passes the device in")
    error = None
    try:
        run(getattr(student.ex5_training, fn), loader)
    except StudentError as exc:
        error = exc
    elsewhere = sorted({d for _, _, d in loader.moves() if d is not None and not d.startswith("cpu")})
    assert not elsewhere, f"{what}: the batches went to {', '.join(elsewhere)}, not to the CPU. {rule}"
    gpu_error = error is not None and any(word in error.message.lower() for word in ("cuda", "nvidia", "gpu"))
    assert not gpu_error, (
        f"{what} raised {error.type_name}: {error.message}. {rule}")
    if error is not None:
        raise error


def _mean_loss_diagnosis(value: float, expected: float, losses: list[float], sizes: list[int],
                         batch_size: int) -> str:
    n = sum(sizes)
    total = sum(l * s for l, s in zip(losses, sizes))
    candidates = (
        (sum(losses) / len(losses), "the mean of the batches' mean losses: with a smaller last batch "
         "its samples weigh more than the others. Add loss.item() * batch size per batch and divide by "
         "the number of samples"),
        (total / len(losses), "the per-sample losses summed and divided by the number of batches "
         "(len(loader)): divide by the number of samples (len(loader.dataset))"),
        (sum(losses), "the sum of the batches' mean losses, never divided"),
        (total, "the sum of the per-sample losses, never divided by the number of samples"),
        (sum(l * batch_size for l in losses) / n, "every batch weighted by loader.batch_size: the last "
         "batch is smaller, weigh each batch by its own size, inputs.size(0)"),
        (losses[-1], "the last batch's loss only: add up the losses of all batches"),
        (losses[0], "the first batch's loss only: add up the losses of all batches"),
    )
    for guess, text in candidates:
        if math.isclose(value, guess, rel_tol=1e-5, abs_tol=1e-7) and not math.isclose(guess, expected, rel_tol=1e-5):
            return f" Your value is {text}."
    return ""


@pytest.mark.points(1)
@settings(max_examples=8, **_EXAMPLES)
@example(sizes=(10, 4), seed=0, scale=1.0)
@example(sizes=(5, 8), seed=1, scale=1.0)
@example(sizes=(7, 3), seed=2, scale=40.0)
@example(sizes=(301, 1), seed=3, scale=1.0)  # 301 batches: a `break` left over from debugging shows
@given(sizes=ex5_epoch_sizes, seed=ex5_seeds, scale=ex5_logit_scales)
def test_train_one_epoch_returns_mean_loss_per_sample(student, sizes, seed, scale):
    n, batch_size = sizes
    opt_kwargs = dict(lr=0.1 / scale**2, momentum=0.9)
    # every other seed a criterion with label smoothing: the loss reported is the criterion's
    smoothing = 0.1 if seed % 2 else 0.0
    state = _random_state(batch_norm=False, seed=seed)
    state["2.weight"] = state["2.weight"] * scale  # losses of 10 to 100 with scale 40
    x, y = _data(n, seed + 1)
    net = _worker_mlp(student, state, batch_norm=False)
    result, _ = _student_epoch(student, net, x, y, batch_size, opt_kwargs, keep=False, smoothing=smoothing)
    what = _epoch_text(n, batch_size, opt_kwargs, batch_norm=False, smoothing=smoothing)
    value = _as_number(result, what)
    trusted = _trusted_mlp(state, batch_norm=False)
    losses, batch_sizes = _trusted_epoch(trusted, x, y, batch_size, opt_kwargs, smoothing=smoothing)
    expected = sum(l * s for l, s in zip(losses, batch_sizes)) / n
    if math.isclose(value, expected, rel_tol=1e-5, abs_tol=1e-7):
        return
    hint = _mean_loss_diagnosis(value, expected, losses, batch_sizes, batch_size)
    if not hint and not _states_close(_worker_state(student, net), trusted.state_dict()):
        hint = (" Your loop's weights after the epoch also differ from the grader's, so its batches' "
                "losses differ too: fix the steps first (see the other train_one_epoch tests).")
    elif not hint and smoothing:
        hint = (" The weights are right, so the loss you add up is not the one the criterion gave: use "
                "loss = criterion(outputs, labels) and loss.item(), not a cross-entropy of your own.")
    raise AssertionError(
        f"{what} returned {value:.6g}, expected the mean loss per sample over the epoch, {expected:.6g} "
        f"(each batch's loss, computed before its step, weighted by the batch's size, divided by {n} "
        "samples)." + hint)


@pytest.mark.points(1)
def test_train_one_epoch_returns_a_number_not_a_graph(student):
    opt_kwargs = dict(lr=0.1)
    state = _random_state(batch_norm=False, seed=161)
    x, y = _data(10, seed=162)
    net = _worker_mlp(student, state, batch_norm=False)
    result, _ = _student_epoch(student, net, x, y, 4, opt_kwargs, keep=False)
    what = _epoch_text(10, 4, opt_kwargs, batch_norm=False)
    _as_number(result, what)
    assert not (isinstance(result, torch.Tensor) and result.requires_grad), (
        f"{what} returned a tensor that requires grad ({result!r}): the losses were added up as tensors, "
        "so every batch's computation graph stays in memory until the epoch ends (on CIFAR-10 that runs "
        "out of memory). Add loss.item() * inputs.size(0), a Python float, and return a float")
    assert not isinstance(result, torch.Tensor), (
        f"{what} returned a tensor ({result!r}), expected a Python float: a tensor cannot be written "
        "to JSON or a CSV log as it is, and one on the GPU holds GPU memory. Add up loss.item() * "
        "inputs.size(0) and return that sum divided by the number of samples")


@pytest.mark.points(1)
def test_train_one_epoch_loss_goes_down_on_separable_data(student):
    g = torch.Generator().manual_seed(151)
    centres = torch.tensor([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0]])
    y = torch.arange(30) % 3
    x = centres[y] + 0.5 * torch.randn(30, 4, generator=g)
    state = _random_state(seed=152)
    opt_kwargs = dict(lr=0.05, momentum=0.9)
    net = _worker_mlp(student, state)
    loader = student.tools.RecordingLoader(x, y, 8)
    criterion = student.torch.nn.CrossEntropyLoss()
    optimizer = student.torch.optim.SGD(call_keep(net.parameters), **opt_kwargs)
    what = (f"train_one_epoch called 5 times on the same {_mlp_text()}, on 30 points in 3 well separated "
            f"clusters (batches of 8), with {_opt_text(opt_kwargs)}")
    losses = [_as_number(student.ex5_training.train_one_epoch(net, loader, criterion, optimizer), what)
              for _ in range(5)]
    shown = ", ".join(f"{l:.4g}" for l in losses)
    assert all(math.isfinite(l) for l in losses) and losses[-1] < 0.5 * losses[0], (
        f"{what} returned the losses {shown}: on data this easy the mean loss should fall to less than "
        "half within 5 epochs. Check that each batch does zero_grad(), forward, loss, backward() and "
        "step(), in this order")
    trained = _trusted_mlp({k: v.reshape(()) if k.endswith("num_batches_tracked") else v
                            for k, v in _worker_state(student, net).items()}).eval()
    with torch.no_grad():
        accuracy = (trained(x).argmax(1) == y).double().mean().item()
    assert accuracy >= 0.9, (
        f"{what}: the losses it returned fall ({shown}), but the trained model classifies only "
        f"{accuracy:.0%} of the training points correctly: the returned loss must be the loss of the "
        "model being trained")


# --- evaluate ---------------------------------------------------------------------------------------


def _probe_evaluate(student, seed: int):
    state = _random_state(seed=seed)
    x, y = _data(10, seed + 1)
    net = _worker_mlp(student, state)
    probe = student.tools.Probe(net)
    probe.train()  # as train_one_epoch leaves it
    call_keep(student.ex5_training.evaluate, probe, student.tools.RecordingLoader(x, y, 4))
    what = (f"evaluate(model, loader) with model = {_mlp_text()} left in train mode (as train_one_epoch "
            "leaves it) and a loader of 10 samples in batches of 4")
    log = probe.log
    assert log, f"{what}: your evaluate never called the model"
    return log, what


@pytest.mark.points(1)
def test_evaluate_sets_eval_mode(student):
    log, what = _probe_evaluate(student, seed=201)
    in_train = sum(1 for _, mode in log if mode is True)
    assert in_train == 0, (
        f"{what}: {in_train} of the {len(log)} forward passes ran in train mode. Call model.eval() at "
        "the start of evaluate: in train mode dropout drops units at random and batch norm uses the "
        "batch's statistics (and updates its running averages with the test data)")
    mixed = sum(1 for _, mode in log if mode is None)
    assert mixed == 0, (
        f"{what}: in {mixed} of the {len(log)} forward passes the model's layers were still in train "
        "mode while the model itself was in eval mode. model.training = False changes only the model's "
        "own flag; model.eval() switches every layer (batch norm and dropout included)")


@pytest.mark.points(1)
def test_evaluate_disables_gradients(student):
    log, what = _probe_evaluate(student, seed=211)
    with_grad = sum(1 for grad_enabled, _ in log if grad_enabled)
    assert with_grad == 0, (
        f"{what}: {with_grad} of the {len(log)} forward passes ran with gradients enabled. Wrap the "
        "loop in `with torch.no_grad():` (or torch.inference_mode()): evaluation needs no gradients, "
        "and recording them costs memory and time")


@pytest.mark.points(1)
def test_evaluate_leaves_gradients_enabled(student):
    state = _random_state(seed=231)
    x, y = _data(10, seed=232)
    net = _worker_mlp(student, state)
    call_keep(student.torch.set_grad_enabled, True)  # as in a training script, whatever ran before
    try:
        call_keep(student.ex5_training.evaluate, net, student.tools.RecordingLoader(x, y, 4))
        enabled = student.torch.is_grad_enabled()
    finally:
        call_keep(student.torch.set_grad_enabled, True)  # later tests start from the usual state
    what = (f"evaluate(model, loader) with model = {_mlp_text()} and a loader of 10 samples in batches "
            "of 4, called with gradients enabled (as in a training script)")
    assert enabled, (
        f"{what} left gradients switched off for everything that runs after it: "
        "torch.is_grad_enabled() is False once it returns, so the next epoch's loss.backward() fails "
        "(the loss does not require grad). Turn gradients off only around the loop, with "
        "`with torch.no_grad():` (or torch.inference_mode()), which switches them back on at its "
        "end; not with torch.set_grad_enabled(False) on its own line"
    )


@pytest.mark.points(1)
def test_evaluate_moves_batches_to_device(student):
    state = _random_state(seed=221)
    x, y = _data(10, seed=222)
    net = student.tools.Probe(_worker_mlp(student, state))
    loader = student.tools.RecordingLoader(x, y, 4)
    call_keep(student.ex5_training.evaluate, net, loader, _DEVICE)
    what = ("evaluate(model, loader, device) with model = " + _mlp_text() + ", a loader of 10 samples in "
            f"batches of 4 and device = torch.device({str(_DEVICE)!r})")
    # The labels may stay where they are when the predictions come back to them (preds.cpu() == y).
    _assert_moved(loader.moves(), net.unmoved, ("inputs",), what, "the model")
    _assert_default_device_is_cpu(student, "evaluate", "evaluate(model, loader)",
                                  lambda fn, loader: fn(_worker_mlp(student, state), loader))


def _clear_inputs(ref, n: int, g: torch.Generator) -> torch.Tensor:
    """Inputs whose top two logits differ by at least 1e-3, so the prediction cannot depend on
    float rounding in the worker or here."""
    x = torch.randn(n, 4, generator=g)
    for _ in range(100):
        with torch.no_grad():
            top2 = ref(x).topk(2, dim=1).values
        unclear = (top2[:, 0] - top2[:, 1]) < 1e-3
        if not unclear.any():
            return x
        x[unclear] = torch.randn(int(unclear.sum()), 4, generator=g)
    raise RuntimeError("could not draw inputs with clear predictions")


@pytest.mark.points(1)
@settings(max_examples=8, **_EXAMPLES)
@example(sizes=(10, 4), num_classes=3, seed=0)
@example(sizes=(7, 3), num_classes=5, seed=1)
@example(sizes=(251, 1), num_classes=3, seed=2)  # 251 batches: a `break` left over from debugging shows
@given(sizes=ex5_epoch_sizes, num_classes=ex5_num_classes, seed=ex5_seeds)
def test_evaluate_returns_top1_fraction(student, sizes, num_classes, seed):
    n, batch_size = sizes
    state = _random_state(num_classes=num_classes, seed=seed)
    ref = _trusted_mlp(state, num_classes).eval()
    g = torch.Generator().manual_seed(seed + 1)
    x = _clear_inputs(ref, n, g)
    with torch.no_grad():
        predictions = ref(x).argmax(dim=1)
    # Labels that make exactly k of the n predictions right, 0 < k < n, at random positions.
    k = int(torch.randint(1, n, (1,), generator=g))
    wrong = torch.randperm(n, generator=g)[k:]
    labels = predictions.clone()
    labels[wrong] = (predictions[wrong] + torch.randint(1, num_classes, (len(wrong),), generator=g)) % num_classes
    expected = float(np.mean(predictions.numpy() == labels.numpy()))

    net = _worker_mlp(student, state, num_classes)
    net.train()  # as train_one_epoch leaves it
    what = (f"evaluate(model, loader) with model = {_mlp_text(num_classes)} and a loader of {n} samples "
            f"in batches of {batch_size}, of which the model classifies {k} correctly")
    result = student.ex5_training.evaluate(net, student.tools.RecordingLoader(x, labels, batch_size))
    value = _as_number(result, what)
    # abs_tol: a float32 mean (0.6000000238 for 3/5) is right too; distinct fractions k/n with n <= 251
    # differ by far more
    if math.isclose(value, expected, rel_tol=0, abs_tol=1e-6):
        _assert_not_tensor(result, what, "accuracy = correct / total with correct a Python int "
                                         "(correct += (preds == labels).sum().item())")
        return
    hits = (predictions == labels).tolist()
    train_mode = _trusted_mlp(state, num_classes).train()
    try:
        with torch.no_grad():
            train_hits = torch.cat([train_mode(x[s:s + batch_size]).argmax(1) == labels[s:s + batch_size]
                                    for s in range(0, n, batch_size)])
        train_accuracy = train_hits.double().mean().item()
    except ValueError:  # batch norm refuses a batch of one in train mode
        train_accuracy = math.nan
    per_batch = [hits[s:s + batch_size] for s in range(0, n, batch_size)]
    guesses = [
        (train_accuracy, "the accuracy of the model in train mode, where batch norm uses each batch's "
         "statistics: call model.eval() first"),
        (100 * expected, "a percentage: return the fraction in [0, 1], correct / total"),
        (float(k), "the number of correct predictions: divide by the number of samples"),
        (k / len(per_batch), "divided by the number of batches (len(loader)): divide by the number of "
         "samples (labels.size(0) summed over the batches, or len(loader.dataset))"),
        (sum(sum(b) / len(b) for b in per_batch) / len(per_batch), "the mean of the batches' "
         "accuracies: with a smaller last batch its samples weigh more; count correct predictions "
         "and samples over the whole loader and divide once"),
    ]
    hint = next((f" Your value is {text}." for guess, text in guesses
                 if math.isclose(value, guess, abs_tol=1e-6) and not math.isclose(guess, expected, abs_tol=1e-6)), "")
    raise AssertionError(
        f"{what} returned {value!r}, expected the top-1 accuracy {k}/{n} = {expected:.6g}: the fraction of "
        "samples whose largest logit (argmax over dim 1) is the label, in eval mode." + hint)


# --- cosine_lr -----------------------------------------------------------------------------------


def _cosine(base_lr: float, epoch: int, total_epochs: int) -> float:
    return 0.5 * base_lr * (1 + math.cos(math.pi * epoch / total_epochs))


_COSINE = "0.5 * base_lr * (1 + cos(pi * epoch / total_epochs))"


@pytest.mark.points(1)
@settings(max_examples=30, **_EXAMPLES)
@example(args=(0.1, 0, 10))
@example(args=(0.1, 10, 10))
@example(args=(0.1, 5, 10))
@example(args=(0.05, 1, 3))
@given(args=cosine_lr_args())
def test_cosine_lr_matches_formula(student, args):
    base_lr, epoch, total_epochs = args
    what = f"cosine_lr({base_lr!r}, {epoch}, {total_epochs})"
    result = student.ex5_training.cosine_lr(base_lr, epoch, total_epochs)
    value = _as_number(result, what)
    expected = _cosine(base_lr, epoch, total_epochs)
    _assert_not_tensor(result, what, "math.cos on Python numbers, not torch.cos")
    hint = ""
    if epoch < total_epochs and math.isclose(value, _cosine(base_lr, epoch + 1, total_epochs), rel_tol=1e-6, abs_tol=1e-12):
        hint = " Your value is the formula at epoch + 1: use epoch as it is (epoch 0 gives base_lr)."
    elif math.isclose(value, 0.5 * base_lr * (1 + math.cos(epoch / total_epochs)), rel_tol=1e-6):
        hint = " Your value is the formula without pi: cos(pi * epoch / total_epochs)."
    assert math.isclose(value, expected, rel_tol=1e-6, abs_tol=_COSINE_ATOL * base_lr), (
        f"{what} returned {value!r}, expected {_COSINE} = {expected!r}: base_lr at epoch 0, "
        f"base_lr / 2 halfway, 0 at epoch total_epochs.{hint}")


@pytest.mark.points(1)
def test_cosine_lr_matches_cosine_annealing_lr(student):
    for base_lr, total_epochs in ((0.1, 30), (0.05, 7), (1.0, 100)):
        param = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.SGD([param], lr=base_lr)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_epochs, eta_min=0)
        for epoch in range(total_epochs + 1):
            expected = optimizer.param_groups[0]["lr"]
            what = f"cosine_lr({base_lr}, {epoch}, {total_epochs})"
            value = _as_number(student.ex5_training.cosine_lr(base_lr, epoch, total_epochs), what)
            assert math.isclose(value, expected, rel_tol=1e-6, abs_tol=_COSINE_ATOL * base_lr), (
                f"{what} returned {value!r}, but torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, "
                f"T_max={total_epochs}, eta_min=0) gives the learning rate {expected!r} at epoch {epoch}. "
                f"Use {_COSINE}")
            optimizer.step()
            scheduler.step()


#: Absolute tolerance of cosine_lr, relative to base_lr: a value computed in float32
#: (torch.cos on a float32 tensor) is off by up to ~1.3e-7 * base_lr, while the smallest difference
#: a real mistake makes (epoch + 1, no pi, ...) over the drawn schedules (total_epochs <= 500) is
#: about pi**2 / (4 * 500**2) * base_lr = 9.9e-6 * base_lr.
_COSINE_ATOL = 1e-6


# --- checkpoints ----------------------------------------------------------------------------------


def _checkpoint_inputs() -> torch.Tensor:
    return torch.randn(6, 4, generator=torch.Generator().manual_seed(301))


@pytest.mark.points(1)
def test_save_checkpoint_writes_state_dict_loadable_with_weights_only(student):
    state = _random_state(seed=311)
    net = _worker_mlp(student, state)
    net.eval()
    path = "model.ckpt"  # not .pt: the file goes to exactly the path given, whatever its extension
    what = f"save_checkpoint(model, {path!r}) with model = {_mlp_text()}"
    student.ex5_training.save_checkpoint(net, path)
    try:
        data = student.tools.read_bytes(path)
    except StudentError as exc:
        raise AssertionError(f"{what} returned, but there is no file at {path!r} ({exc.type_name}): write "
                             "the checkpoint to exactly the path given, torch.save(model.state_dict(), path)") from None
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise AssertionError(
            f"{what}: the file cannot be read with torch.load(path, weights_only=True) "
            f"({type(exc).__name__}). torch.save(model) pickles the whole module, which only loads with "
            "weights_only=False, an option that can run arbitrary code: save the state_dict, "
            "torch.save(model.state_dict(), path)") from None
    expected_keys = list(state)
    if not isinstance(loaded, dict):
        raise AssertionError(f"{what}: the file holds {_a(type(loaded).__name__)}, expected model.state_dict() "
                             "(a dict from parameter and buffer names to tensors)")
    keys = list(loaded)
    if set(keys) != set(expected_keys):
        if any(isinstance(v, dict) for v in loaded.values()):
            hint = (f"the file holds a dict with the keys {keys[:6]}, which wraps the state_dict: save "
                    "model.state_dict() itself, so that model.load_state_dict(torch.load(path)) works")
        elif set(keys) < set(expected_keys):
            hint = (f"these are missing: {sorted(set(expected_keys) - set(keys))}. Save model.state_dict(), "
                    "which holds the buffers (batch norm's running statistics) as well as the parameters")
        else:
            hint = f"its keys are {keys[:10]}, expected exactly the model's state_dict keys {expected_keys}"
        raise AssertionError(f"{what}: the file is not the model's state_dict: {hint}")
    fresh = _mlp(torch.nn)
    try:
        fresh.load_state_dict({k: v.reshape(state[k].shape) if isinstance(v, torch.Tensor) else v
                               for k, v in loaded.items()})
    except (RuntimeError, TypeError, ValueError) as exc:
        raise AssertionError(f"{what}: the saved state_dict does not load into a fresh {_mlp_text()} "
                             f"({type(exc).__name__}): save model.state_dict() as it is") from None
    fresh.eval()
    x = _checkpoint_inputs()
    with torch.no_grad():
        restored = fresh(x)
    original = net(x)
    torch.testing.assert_close(restored, original, rtol=1e-6, atol=1e-6, msg=lambda _: (
        f"{what}: a fresh model loaded from the file computes other outputs than the model that was "
        "saved: the file must hold the model's current weights and buffers, model.state_dict()"))


class _RunsCode:
    """Pickles as a call of open(): a file that runs code when unpickled (torch.save of it only
    builds the bytes; nothing runs here)."""

    def __reduce__(self):
        return (open, ("pickled_code_ran", "w"))


def _code_checkpoint() -> bytes:
    buffer = io.BytesIO()
    torch.save(_RunsCode(), buffer)
    return buffer.getvalue()


_CODE_CHECKPOINT = _code_checkpoint()


def _gpu_checkpoint(state: dict[str, torch.Tensor]) -> bytes | None:
    """``torch.save(state)`` as a GPU machine writes it: every tensor tagged ``cuda:0`` (made
    here without a GPU). None where this torch has no ``location_tag`` to tag them with."""
    if not callable(getattr(torch.serialization, "location_tag", None)):
        return None
    buffer = io.BytesIO()
    with mock.patch.object(torch.serialization, "location_tag", lambda storage: "cuda:0"):
        torch.save(state, buffer)
    return buffer.getvalue()


def _gpu_checkpoint_note(student, model) -> str:
    """Advice, not points: does a checkpoint written on a GPU (Colab, the course's cluster) load on
    a CPU-only machine (``map_location="cpu"``)? Many correct loops leave map_location out, and
    on one machine nothing goes wrong, so a miss costs nothing; the student reads why it matters.
    Where the worker has CUDA, nothing tells the two apart: no note."""
    data = _gpu_checkpoint(_random_state(seed=324))
    if data is None or student.torch.cuda.is_available():
        return ""
    student.tools.write_bytes("gpu.pt", data)
    try:
        student.ex5_training.load_checkpoint(model, "gpu.pt")
    except StudentImportError:
        raise
    except StudentError as exc:  # the same function just loaded a CPU file: the device tags are the cause
        return ("Passed, with one piece of advice (no points taken): a state_dict file written on a GPU "
                f"machine made load_checkpoint raise {exc.type_name} here, on a CPU-only one. A checkpoint "
                "remembers the device of every tensor: torch.load(path, map_location=\"cpu\", "
                "weights_only=True) loads it anywhere, and load_state_dict copies the values to the model")
    return ""


@pytest.mark.points(1)
def test_load_checkpoint_loads_in_place_and_returns_the_model(student, record_property):
    saved, other = _random_state(seed=321), _random_state(seed=322)
    source = _worker_mlp(student, saved)
    path = "weights.pt"
    student.torch.save(call_keep(source.state_dict), path)  # a plain state_dict file, as torch.save writes it
    model = _worker_mlp(student, other)
    what = (f"load_checkpoint(model, {path!r}) with model = {_mlp_text()} and a file written by "
            "torch.save(other_model.state_dict(), path)")
    ids = student.tools.param_ids(model)
    returned = call_keep(student.ex5_training.load_checkpoint, model, path)
    got = _worker_state(student, model)
    if not _states_close(got, saved):
        unchanged = _states_close(got, other)
        raise AssertionError(
            f"{what}: afterwards the model passed in does not hold the saved weights"
            + (" (it still has its own)" if unchanged else "")
            + ". Load into that very model, in place: model.load_state_dict(torch.load(path, "
            "weights_only=True)), rather than building or copying another model")
    assert student.tools.param_ids(model) == ids, (
        f"{what}: the model holds the saved weights, but in new parameter tensors, not its own ones "
        "(load_state_dict(..., assign=True), or parameters replaced): an optimizer built before loading "
        "keeps updating the old ones, and on a GPU the new ones stay on the CPU. Load in place: "
        "model.load_state_dict(state) copies the values into the model's own parameters")
    assert student.tools.same(returned, model), (
        f"{what} returned {_a(_kind(returned))}, not the model it was given: end with `return model` "
        "(model.load_state_dict(...) returns a named tuple of missing and unexpected keys, not the model)")
    model.eval()
    x = _checkpoint_inputs()
    expected = _trusted_mlp(saved).eval()
    with torch.no_grad():
        want = expected(x)
    torch.testing.assert_close(model(x), want, rtol=1e-5, atol=1e-6, msg=lambda _: (
        f"{what}: the loaded model computes other outputs than the saved one"))
    # "Such a file" only: the state_dict of this very architecture (strict keys), and never a file
    # whose pickle runs code (weights_only=True).
    student.torch.save(call_keep(_worker_mlp(student, _random_state(batch_norm=False, seed=323),
                                             batch_norm=False).state_dict), "other.pt")
    with student_raises("Exception", f"load_checkpoint(model, 'other.pt') with {_mlp_text()} and the "
                        "state_dict of the same network without its BatchNorm1d (missing keys)"):
        student.ex5_training.load_checkpoint(model, "other.pt")
    student.torch.save({**saved, "4.weight": saved["3.weight"]}, "more.pt")  # one key too many
    with student_raises("Exception", f"load_checkpoint(model, 'more.pt') with {_mlp_text()} and its own "
                        "state_dict plus a key it does not have (an unexpected key must not go unnoticed: "
                        "model.load_state_dict(state) is strict by default, never strict=False)"):
        student.ex5_training.load_checkpoint(model, "more.pt")
    partial = {k: v for k, v in saved.items() if not k.endswith("running_var")}  # one key short
    student.torch.save(partial, "partial.pt")
    with student_raises("Exception", f"load_checkpoint(model, 'partial.pt') with {_mlp_text()} and its own "
                        "state_dict without the batch norm's running_var (a missing key must not go unnoticed: "
                        "model.load_state_dict(state) is strict by default)"):
        student.ex5_training.load_checkpoint(model, "partial.pt")
    student.tools.write_bytes("code.pt", _CODE_CHECKPOINT)
    with contextlib.suppress(StudentError):  # refused (UnpicklingError) or failed after running it
        student.ex5_training.load_checkpoint(model, "code.pt")
    assert not student.tools.file_exists("pickled_code_ran"), (
        "load_checkpoint(model, 'code.pt') ran code hidden in the file's pickle (it created a file): "
        "load with torch.load(path, map_location='cpu', weights_only=True), which refuses anything "
        "but tensors and plain containers; weights_only=False executes whatever the file says")
    if note := _gpu_checkpoint_note(student, model):
        record_property("feedback", note)
