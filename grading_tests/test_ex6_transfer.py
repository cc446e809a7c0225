"""Hidden tests for exercise 6: transfer learning by head replacement (20 points).

The student's models live in the worker process; ``model`` below is a proxy to one. Every model is
built with ``weights=None`` and with downloads forbidden in the worker (``tools.forbid_downloads``),
so nothing is downloaded and a submission that ignores ``weights`` fails the same way with or
without a network. Which parameters are frozen is read as flags (``tools.param_flags``), and what
freezing must achieve is checked on real tensors: after an optimizer step the frozen parameters
are bit-identical (compared here, in the trusted process) and received no gradient. The rule is
tested, not a coding style: ``model.requires_grad_(False)``, a loop over ``parameters()`` or
``p.requires_grad = False`` all pass, in any order, as long as the result is right.

torchvision's VGG16 has 138 M parameters (a second to build, 553 MB), so the VGG16 tests build it
once each and never transfer its whole ``state_dict``; the trusted side builds torchvision's
models on the ``meta`` device when it only needs their names and shapes.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch
import torchvision
from hypothesis import example, given, settings
from strategies import transfer_num_classes, transfer_trainable_masks

from autograder.testing import StudentError, call_keep, name_list, student_raises, type_name
from autograder.worker_tools import nn_class  # the worker's view of a module, computed here

pytestmark = pytest.mark.exercise("ex6")

#: The last stage of the ResNet-18 that ``finetune="layer4"`` also trains. The new head is
#: everything under ``fc.``: tests about freezing judge the backbone and the head separately, so
#: a head of the wrong shape loses the head's points only.
_LAYER4_PARAMS = 8_393_728  # parameters of torchvision's resnet18().layer4

#: VGG16's classifier without its last layer: Linear(25088, 4096) and Linear(4096, 4096).
_VGG_CLASSIFIER_BODY = 25088 * 4096 + 4096 + 4096 * 4096 + 4096
_VGG_CLASSIFIER_BODY_PARAMS = ("classifier.0.weight", "classifier.0.bias", "classifier.3.weight",
                               "classifier.3.bias")

#: A sample of VGG16's frozen tensors compared by value after a step (the whole state_dict is
#: 553 MB): the first and the last convolution and one in the middle.
_VGG_FROZEN_SAMPLE = ("features.0.weight", "features.0.bias", "features.14.weight", "features.28.weight",
                      "features.28.bias")

#: Tolerances for comparing the student's ResNet-18 with torchvision's on the same weights (the
#: worker runs single-threaded, so float32 sums may round differently).
_RTOL, _ATOL = 1e-4, 1e-4

_FREEZE_HOW = (
    "model.requires_grad_(False), or `for p in model.parameters(): p.requires_grad = False`"
)
_ORDER_HINT = (
    "freeze first and create the new head afterwards: a freshly created nn.Linear has "
    "requires_grad=True, but freezing every parameter after the replacement freezes the new head too"
)


# --- helpers -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _torchvision_shapes(arch: str, num_classes: int) -> dict[str, tuple[int, ...]]:
    """``{name: shape}`` of torchvision's model with a ``num_classes`` head (built on the meta
    device: no memory, no time)."""
    with torch.device("meta"):
        model = getattr(torchvision.models, arch)(num_classes=num_classes)
    return {name: tuple(p.shape) for name, p in model.named_parameters()}


def _assert_builds_with_imagenet_weights(student, fn: str, arch: str, enum: str, head: str) -> None:
    """With real weights, named (``"IMAGENET1K_V1"``) or as torchvision's enum member
    (``models.<enum>.IMAGENET1K_V1``), the call gets as far as torchvision's download (forbidden
    here: DownloadForbidden), or returns a model where the weights are already on disk; any other
    error means the weights could not be used (models.<arch>(weights=..., num_classes=3) is one;
    so is a lookup ``models.<enum>[weights]`` that only takes names)."""
    member = getattr(getattr(student.torchvision.models, enum), "IMAGENET1K_V1")
    for weights, shown in (("IMAGENET1K_V1", "'IMAGENET1K_V1'"), (member, f"models.{enum}.IMAGENET1K_V1")):
        try:  # on meta: no time for initial weights before the download (build_on_meta)
            student.tools.build_on_meta(getattr(student.ex6_transfer, fn), 3, weights=weights)
        except StudentError as exc:
            if not exc.came_from("DownloadForbidden"):  # torchvision's, or the student's wrapper of it
                raise AssertionError(
                    f"{fn}(3, weights={shown}) raised {exc.type_name}: {exc.message}. With real weights, "
                    f"a name or torchvision's enum member alike, build torchvision's model as it was "
                    f"trained, with ImageNet's 1000 classes: models.{arch}(weights=weights), handing "
                    f"weights on as it is (torchvision takes both), and only then replace its {head}; "
                    f"models.{arch}(weights=weights, num_classes=num_classes) cannot load ImageNet's head"
                ) from None


def _assert_not_a_download(raised, what: str) -> None:
    """An unknown weights name must be refused, not lead to a download of some other weights."""
    assert "DownloadForbidden" not in raised.type_names + raised.causes, (
        f"{what}: the call tried to download pretrained weights ({raised.message}) instead of refusing "
        "the unknown name, so the name was not what chose the weights. Hand weights to torchvision "
        "as it is, models.<arch>(weights=weights); the old pretrained=True/False flag ignores which "
        "weights were asked for"
    )


def _is_linear(student, module, kind: str) -> bool:
    """Is the student's module an ``nn.Linear`` (its own subclass of one included)?"""
    return kind == "Linear" or student.tools.nn_class(module) == "Linear"


def _call_text(fn: str, args: tuple, kwargs: dict) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{fn}({', '.join(parts)})"


def _build(student, fn: str, *args, meta: bool = False, filled: bool = False, **kwargs):
    """``student.ex6_transfer.<fn>(*args, **kwargs)`` with downloads forbidden in the worker;
    returns the model proxy and the call as text (for messages). ``meta``: for tests that only
    read names, shapes, types and flags, built without initial weights (``tools.build_on_meta``);
    ``filled``: for tests that run the model but not its initialisation, cheap weights instead
    (``tools.build_filled``)."""
    what = _call_text(fn, args, kwargs)
    student.tools.forbid_downloads()
    try:
        if meta:
            return student.tools.build_on_meta(getattr(student.ex6_transfer, fn), *args, **kwargs), what
        if filled:
            return student.tools.build_filled(getattr(student.ex6_transfer, fn), *args, **kwargs), what
        return getattr(student.ex6_transfer, fn)(*args, **kwargs), what
    except StudentError as exc:
        if not exc.came_from("DownloadForbidden"):
            raise
        message = exc.message
    raise AssertionError(
        f"{what} tried to download pretrained weights ({message}). The grader builds every model "
        "with weights=None, which means random initial weights and no download: hand the weights "
        f"argument to torchvision as it is (models.{fn.split('_')[0]}(weights=weights)), never a fixed "
        "'IMAGENET1K_V1' or pretrained=True, and keep the default weights=None"
    )


def _names(names) -> str:
    return name_list(sorted(names))


def _is_batch_norm(name: str) -> bool:
    module = name.rsplit(".", 1)[0]
    return module.split(".")[-1].startswith("bn") or module.endswith("downsample.1")


def _is_head(name: str) -> bool:
    return name.startswith("fc.")


def _backbone_names() -> list[str]:
    """The names of torchvision's resnet18 parameters outside the head (conv1 ... layer4)."""
    return [n for n in _torchvision_shapes("resnet18", 10) if not _is_head(n)]


def _head_size(student, model) -> int:
    """How many numbers the student's head ``fc`` holds (whatever its shape)."""
    return sum(math.prod(s) for n, s in student.tools.param_shapes(model).items() if _is_head(n))


def _assert_backbone_names(names, what: str) -> None:
    """The student's model has exactly torchvision's resnet18 parameters outside ``fc``."""
    expected = _backbone_names()
    missing = [n for n in expected if n not in names]
    extra = [n for n in names if not _is_head(n) and n not in expected]
    assert not missing and not extra, (
        f"{what} does not have the parameters of torchvision's resnet18: "
        + (f"missing {_names(missing)}; " if missing else "")
        + (f"unexpected {_names(extra)}; " if extra else "")
        + "build it with torchvision.models.resnet18(weights=weights) and replace only its fc "
        "attribute (model.fc = nn.Linear(512, num_classes)): do not wrap the model or add layers"
    )


def _assert_flags(flags: dict, trainable: set, what: str, *, rule: str) -> None:
    """Every parameter in ``flags`` has ``requires_grad`` exactly when its name is in ``trainable``."""
    frozen_wrongly = sorted(n for n, f in flags.items() if not f and n in trainable)
    trainable_wrongly = sorted(n for n, f in flags.items() if f and n not in trainable)
    if not frozen_wrongly and not trainable_wrongly:
        return
    problems, hints = [], []
    if trainable_wrongly:
        problems.append(f"{len(trainable_wrongly)} parameters that must be frozen have requires_grad=True "
                        f"({_names(trainable_wrongly)})")
        should_freeze = [n for n in flags if n not in trainable]
        if any(n.startswith("features.") for n in trainable_wrongly):
            hints.append("model.features (the convolutional part) must be frozen: "
                         "model.features.requires_grad_(False) or a loop over model.features.parameters()")
        elif len(trainable_wrongly) == len(should_freeze):
            hints.append(f"nothing is frozen: turn off requires_grad for every pretrained parameter "
                         f"({_FREEZE_HOW})")
        elif all(_is_batch_norm(n) for n in trainable_wrongly):
            hints.append("only batch-norm weights and biases are still trainable: they are parameters "
                         "too, so freeze every parameter, not only the convolutions' weights")
        elif any(n.startswith(("layer3.", "layer2.", "layer1.")) for n in trainable_wrongly):
            hints.append('finetune="layer4" unfreezes model.layer4 only, not the stages before it, '
                         'and the default finetune="fc" trains the head alone')
        elif any(n.startswith("layer4.") for n in trainable_wrongly):
            hints.append('layer4 trains only with finetune="layer4"; the default finetune="fc" '
                         "trains the head alone")
    if frozen_wrongly:
        problems.append(f"{len(frozen_wrongly)} parameters that must be trainable have requires_grad=False "
                        f"({_names(frozen_wrongly)})")
        if any(n.startswith("fc.") or n.startswith("classifier.6.") for n in frozen_wrongly):
            hints.append(f"the new head is frozen: {_ORDER_HINT}")
        if any(n.startswith("layer4.") for n in frozen_wrongly):
            hints.append('with finetune="layer4" unfreeze layer4 after freezing everything '
                         "(model.layer4.requires_grad_(True))")
        if any(n.startswith("classifier.") and not n.startswith("classifier.6.") for n in frozen_wrongly):
            hints.append("freeze model.features only: the classifier's first two Linear layers keep "
                         "training with the new head")
    raise AssertionError(f"{what}: {rule}. Found: " + "; ".join(problems) + ". Hint: "
                         + ("; ".join(hints) or "compare with the table in the handout") + ".")


def _images(batch_size: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch_size, 3, 32, 32, generator=g)


def _labels(batch_size: int, num_classes: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, num_classes, (batch_size,), generator=g)


def _sgd(student, model, params, what: str, source: str):
    """``torch.optim.SGD(params, lr=0.1)`` in the worker, with an empty parameter list or a list of
    non-tensors turned into a failure that says what ``source`` gave."""
    try:
        return student.torch.optim.SGD(params, lr=0.1)
    except StudentError as exc:
        if "empty parameter list" in exc.message:
            trainable = [n for n, flag in student.tools.param_flags(model).items() if flag]
            if trainable and source.startswith("trainable_parameters"):
                raise AssertionError(
                    f"{source} for {what} returned no parameters, but the model has {len(trainable)} "
                    f"with requires_grad=True ({_names(trainable)}): return those Parameter objects, "
                    "[p for p in model.parameters() if p.requires_grad] (the tensors of state_dict() "
                    "never require grad, and named_parameters() gives (name, parameter) pairs)"
                ) from None
            raise AssertionError(
                f"{source} for {what} gave no parameters at all, so there is nothing to train: the "
                f"new head must be trainable. Hint: {_ORDER_HINT}"
            ) from None
        if exc.is_a("TypeError"):
            raise AssertionError(
                f"torch.optim.SGD could not use what {source} returned for {what} ({exc.message}): it "
                "must return the model's Parameter objects themselves (not names, not copies)"
            ) from None
        raise


def _step(student, model, what: str, num_classes: int, seed: int, params=None) -> None:
    """One SGD step (lr 0.1) in train mode on 4 random images, over ``trainable_parameters(model)``
    (or ``params``)."""
    source = "trainable_parameters(model)"
    if params is None:
        params = call_keep(student.ex6_transfer.trainable_parameters, model)
    else:
        source = "model.parameters()"
    opt = _sgd(student, model, params, what, source)
    student.tools.seed(seed)
    try:
        student.tools.train_step(model, opt, _images(4, seed), _labels(4, num_classes, seed + 1))
    except StudentError as exc:
        if "does not require grad" not in exc.message:
            raise
        raise AssertionError(
            f"{what}: a training step failed because no parameter of the model is trainable "
            f"(loss.backward() raised: {exc.message}). The new head must be trainable. Hint: {_ORDER_HINT}"
        ) from None


# --- resnet18_transfer: construction ---------------------------------------------------------------


@pytest.mark.points(1)
def test_resnet18_transfer_defaults(student):
    model, what = _build(student, "resnet18_transfer", 5, meta=True)
    same, _ = _build(student, "resnet18_transfer", 5, weights=None, finetune="fc", meta=True)
    flags, expected = student.tools.param_flags(model), student.tools.param_flags(same)
    assert flags == expected, (
        f"{what} (defaults for weights and finetune) froze different parameters than "
        "resnet18_transfer(5, weights=None, finetune='fc'): the defaults are weights=None and "
        "finetune='fc'. Trainable with the defaults: "
        f"{_names([n for n, f in flags.items() if f]) or 'none'}; "
        f"with finetune='fc': {_names([n for n, f in expected.items() if f]) or 'none'}"
    )


@pytest.mark.points(1)
@settings(max_examples=1)
@example(num_classes=1)
@example(num_classes=37)
@example(num_classes=1000)  # ImageNet's: the old head has the right shape, but it is frozen
@given(num_classes=transfer_num_classes)
def test_resnet18_transfer_head_is_new_linear(student, num_classes):
    model, what = _build(student, "resnet18_transfer", num_classes=num_classes, weights=None, meta=True)
    fc = model.fc
    kind = type_name(fc)
    assert _is_linear(student, fc, kind), (
        f"{what}: model.fc is a {kind}, expected nn.Linear(512, {num_classes}). Replace the "
        "attribute itself, model.fc = nn.Linear(512, num_classes), with nothing around it"
    )
    got = (fc.in_features, fc.out_features)
    assert got == (512, num_classes), (
        f"{what}: model.fc is Linear({got[0]}, {got[1]}), expected Linear(512, {num_classes}). "
        "ResNet-18's last stage gives 512 features (model.fc.in_features), and the new head has "
        "one output per class: use the num_classes argument, not ImageNet's 1000 or a fixed 10"
    )
    bias = student.tools.param_shapes(fc).get("bias")
    assert bias == [num_classes], (
        f"{what}: model.fc has no bias of {num_classes} values (got "
        f"{'none' if bias is None else tuple(bias)}); the new head is nn.Linear(512, num_classes) "
        "with its bias, the default"
    )
    flags = student.tools.param_flags(fc)
    assert all(flags.values()), (
        f"{what}: model.fc is frozen (requires_grad {flags}): the head is always a new, trainable "
        "nn.Linear(512, num_classes), also when num_classes is ImageNet's 1000 and the old head "
        "has the same shape"
    )


@pytest.mark.points(2)
def test_resnet18_transfer_backbone_frozen(student):
    model, what = _build(student, "resnet18_transfer", num_classes=10, weights=None, meta=True)
    flags = student.tools.param_flags(model)
    _assert_backbone_names(flags, what)
    backbone = {n: f for n, f in flags.items() if not _is_head(n)}
    _assert_flags(backbone, set(), what, rule=(
        "every parameter of the pretrained backbone (conv1, bn1, layer1 ... layer4, batch norms "
        "included) must have requires_grad=False"))
    count = student.tools.param_count(model, trainable_only=True)
    head = _head_size(student, model)
    assert count <= head, (
        f"{what} has {count:,} trainable parameters, but its head fc holds only {head:,}: with "
        "the backbone frozen nothing else trains"
    )


@pytest.mark.points(1)
def test_resnet18_transfer_head_trainable(student):
    model, what = _build(student, "resnet18_transfer", num_classes=10, weights=None, meta=True)
    flags = student.tools.param_flags(model)
    head = {n: f for n, f in flags.items() if _is_head(n)}
    assert head, (
        f"{what} has no parameters under fc (parameters: {_names(flags)}): the new head must be the "
        "attribute model.fc = nn.Linear(512, num_classes)"
    )
    assert all(head.values()), (
        f"{what}: the new head must be trainable, but requires_grad is {head}. Hint: {_ORDER_HINT}"
    )
    count = student.tools.param_count(model, trainable_only=True)
    size = _head_size(student, model)
    assert count >= size, (
        f"{what} has {count:,} trainable parameters, fewer than its head fc alone ({size:,})"
    )


@pytest.mark.points(1)
def test_resnet18_transfer_finetune_layer4(student):
    # by position, in the handout's order: resnet18_transfer(num_classes, weights=None, finetune="fc")
    model, what = _build(student, "resnet18_transfer", 6, None, "layer4", meta=True)
    flags = student.tools.param_flags(model)
    _assert_backbone_names(flags, what)
    trainable = {n for n in flags if n.startswith("layer4.") or _is_head(n)}
    _assert_flags(flags, trainable, what, rule=(
        "exactly layer4 and the new head fc are trainable, everything before layer4 is frozen"))
    count = student.tools.param_count(model, trainable_only=True)
    head = _head_size(student, model)
    assert count == _LAYER4_PARAMS + head, (
        f"{what} has {count:,} trainable parameters, expected {_LAYER4_PARAMS + head:,}: layer4 "
        f"({_LAYER4_PARAMS:,}) and the head fc ({head:,})"
    )


@pytest.mark.points(1)
def test_transfer_builders_make_a_new_model_each_call(student):
    for fn, second in (("resnet18_transfer", {"finetune": "layer4"}), ("vgg16_transfer", {})):
        first, what = _build(student, fn, 10, meta=True)
        flags, shapes = student.tools.param_flags(first), student.tools.param_shapes(first)
        other, other_what = _build(student, fn, 5, meta=True, **second)
        shared = sorted(set(student.tools.param_ids(first).values()) & set(student.tools.param_ids(other).values()))
        assert not shared, (
            f"{what} and then {other_what} share {len(shared)} parameters: each call must build a new "
            f"model (torchvision.models.{fn.split('_')[0]}(weights=weights) inside the function), never "
            "one cached or kept at module level, or training one model changes the other"
        )
        assert student.tools.param_flags(first) == flags and student.tools.param_shapes(first) == shapes, (
            f"{other_what} changed the model an earlier {what} returned (its head or which parameters "
            "train): each call must build a new model of its own"
        )
        arch = fn.split("_")[0]
        student.tools.forbid_downloads()
        built = student.tools.torchvision_builds(getattr(student.ex6_transfer, fn), "", 5, weights=None, **second)
        assert built["models"] >= 1, (
            f"{other_what} built no torchvision {arch}: it returned a model made earlier (a copy of one cached "
            f"or kept at module level: copy.deepcopy also copies its initial weights, so every call starts "
            f"from the same ones). Build it on every call: torchvision.models.{arch}(weights=weights) inside "
            "the function"
        )


@pytest.mark.points(1)
def test_resnet18_transfer_invalid_finetune_raises(student):
    student.tools.forbid_downloads()
    # anything but "fc" and "layer4": no default for a missing value, no prefix match, no other case or spaces
    for bad in ("layer3", "all", "layer", "", None, 1, "fc_only", "layer4x", "FC", "Layer4", " fc"):
        what = (f"resnet18_transfer(num_classes=3, weights=None, finetune={bad!r}) (only \"fc\" and "
                "\"layer4\" are valid: check `finetune in (\"fc\", \"layer4\")`)")
        with student_raises("ValueError", what):
            student.ex6_transfer.resnet18_transfer(num_classes=3, weights=None, finetune=bad)


# --- resnet18_transfer: the network and a training step -------------------------------------------


def _parameters(model) -> dict[str, torch.Tensor]:
    """``{name: value}`` of the student's parameters (copies; 45 MB for a ResNet-18)."""
    return {name: value.detach() for name, value in model.named_parameters()}


def _random_batch_norms(state: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """The state with every batch norm's affine parameters and running statistics redrawn, so
    that in eval mode no batch norm is the identity (a missing or misplaced one shows)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in state.items():
        value = value.detach().clone()
        if key.endswith("running_var"):
            value = torch.rand(value.shape, generator=g) + 0.5
        elif key.endswith("running_mean") or (_is_batch_norm(key) and key.endswith(".bias")):
            value = torch.randn(value.shape, generator=g) * 0.1
        elif _is_batch_norm(key) and key.endswith(".weight"):
            value = torch.rand(value.shape, generator=g) + 0.5
        out[key] = value
    return out


@pytest.mark.points(1)
def test_resnet18_transfer_matches_torchvision(student, reference):
    model, what = _build(student, "resnet18_transfer", num_classes=7, weights=None)
    ref = reference.ex6_transfer.resnet18_transfer(num_classes=7)
    params = _parameters(model)
    expected_shapes = _torchvision_shapes("resnet18", 7)
    missing = [k for k in expected_shapes if k not in params]
    extra = [k for k in params if k not in expected_shapes]
    shapes = [f"{k} is {tuple(params[k].shape)}, expected {s}" for k, s in expected_shapes.items()
              if k in params and tuple(params[k].shape) != s]
    assert not (missing or extra or shapes), (
        f"{what}: the parameters differ from torchvision's resnet18 with a Linear(512, 7) head: "
        + "; ".join(([f"missing {_names(missing)}"] if missing else [])
                    + ([f"unexpected {_names(extra)}"] if extra else []) + shapes[:5])
        + ". Build torchvision.models.resnet18(weights=weights) and replace only model.fc"
    )
    _assert_adds_no_layer(student, model, what, "resnet18", 7, "fc")
    # The student's own (random) weights, with batch norms made non-trivial, in both networks.
    # The counters num_batches_tracked (0-dim) stay where they are: eval mode does not read them.
    state = {k: v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    state = _random_batch_norms({**state, **params}, seed=61)
    ref.load_state_dict(state, strict=False)
    ref.eval()
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result[0] if not k.endswith("num_batches_tracked")]
    assert not (missing or result[1]), (
        f"{what}: loading torchvision's resnet18 state_dict into it leaves keys "
        f"missing {_names(missing) or 'none'}, unexpected {_names(result[1]) or 'none'}: build "
        "torchvision.models.resnet18(weights=weights) and replace only model.fc"
    )
    model.eval()
    x = _images(2, seed=62)
    out = model(x)
    assert isinstance(out, torch.Tensor), (
        f"{what}: model(x) returned a {type_name(out)}, not a tensor of logits"
    )
    with torch.no_grad():
        expected = ref(x)
    assert tuple(out.shape) == (2, 7), (
        f"{what}: on a batch of 2 images of shape (3, 32, 32) the model returned shape "
        f"{tuple(out.shape)}, expected (2, 7)"
    )

    def message(default: str) -> str:
        diff = (out - expected).abs().max().item()
        return (
            f"{what} in eval mode, with the same weights as torchvision's resnet18 with a "
            f"Linear(512, 7) head, computes a different output on 2 random images (largest "
            f"difference {diff:.3g}). The model must be torchvision's ResNet-18 with only fc replaced: "
            "no extra layers, no softmax, no changes to forward"
        )

    torch.testing.assert_close(out.detach(), expected, rtol=_RTOL, atol=_ATOL, check_dtype=False, msg=message)


@pytest.mark.points(1)
def test_resnet18_transfer_step_keeps_frozen_weights(student):
    model, what = _build(student, "resnet18_transfer", num_classes=4, weights=None, filled=True)
    before = _parameters(model)
    _assert_backbone_names(before, what)
    frozen = _backbone_names()
    head = [n for n in before if _is_head(n)]
    _step(student, model, what, num_classes=4, seed=71)
    after = _parameters(model)
    changed = [n for n in frozen if not torch.equal(before[n], after[n])]
    assert not changed, (
        f"{what}: after one SGD step (lr=0.1) over trainable_parameters(model), {len(changed)} of the "
        f"{len(frozen)} backbone parameters changed ({_names(changed)}); frozen parameters must stay "
        f"bit-identical. Give them requires_grad=False ({_FREEZE_HOW}): then they get no gradient "
        "and the optimizer leaves them alone"
    )
    assert any(not torch.equal(before[n], after[n]) for n in head), (
        f"{what}: after one SGD step (lr=0.1) over trainable_parameters(model) the head fc did not "
        "change: the head must be trainable, and trainable_parameters must return the model's own "
        "Parameter objects (not copies) so that the optimizer updates the model"
    )


@pytest.mark.points(1)
def test_resnet18_transfer_frozen_get_no_gradient(student):
    model, what = _build(student, "resnet18_transfer", num_classes=4, weights=None, filled=True)
    _step(student, model, what, num_classes=4, seed=81, params=call_keep(model.parameters))
    grads = student.tools.grad_summary(model)
    _assert_backbone_names(grads, what)
    with_grad = [n for n, g in grads.items() if not _is_head(n) and g is not None]
    assert not with_grad, (
        f"{what}: after a backward pass through the model, {len(with_grad)} backbone parameters "
        f"have a gradient ({_names(with_grad)}). Frozen parameters must receive none: give them "
        f"requires_grad=False ({_FREEZE_HOW}), which also saves the time and memory of computing it"
    )
    head = {n: g for n, g in grads.items() if _is_head(n)}
    without = [n for n, g in head.items() if g is None]
    assert head and len(without) < len(head), (
        f"{what}: after a backward pass the new head has no gradient ({head}), so it cannot learn. "
        f"Hint: {_ORDER_HINT}"
    )
    assert not without, (
        f"{what}: after a backward pass {', '.join(without)} of the new head has no gradient (the rest of the "
        "head has one): every parameter of the head trains, its bias included (nn.Linear(512, num_classes) "
        "with requires_grad=True on weight and bias; do not freeze part of it)"
    )


# --- trainable_parameters ---------------------------------------------------------------------------

# "temperature" is a parameter of the model itself, not of a layer: model.children() misses it
_SMALL_NAMES = ("temperature", "0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias")
_SMALL_TEXT = ("Sequential(Conv2d(3, 4, 3), BatchNorm2d(4), ReLU(), Flatten(), Linear(4, 2)) with a parameter "
               "of its own, model.temperature, the Linear's weight tied to a second module, model.tied, and the "
               "Linear registered a second time, as model.fc")


def _small_model(student, mask: list[bool]):
    """A small model built in the worker, with requires_grad set by ``mask`` (one per name)."""
    nn = student.torch.nn
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2))
    model.register_parameter("temperature", call_keep(nn.Parameter, torch.ones(1)))
    tied = nn.Module()  # the same Parameter object in two modules (tied weights): listed once by parameters()
    tied.register_parameter("weight", call_keep(model[4].get_parameter, "weight"))
    model.add_module("tied", tied)
    # and the Linear registered a second time, as model.fc, like ResNet's head: a function that
    # reads model.fc (or switches it on) instead of every parameter's flag shows
    model.add_module("fc", model[4])
    student.tools.set_trainable(model, [n for n, m in zip(_SMALL_NAMES, mask) if m])
    return model


@pytest.mark.points(1)
@settings(max_examples=6)
@example(mask=[False, False, False, True, True, True, True])
@example(mask=[False] * 7)
@example(mask=[True] * 7)
@example(mask=[True, False, True, False, True, True, False])
@given(mask=transfer_trainable_masks)
def test_trainable_parameters_exactly_requires_grad(student, mask):
    model = _small_model(student, mask)
    expected = sorted(n for n, m in zip(_SMALL_NAMES, mask) if m)
    trainable = [n for n, m in zip(_SMALL_NAMES, mask) if m]
    what = (f"trainable_parameters(model) for model = {_SMALL_TEXT} where requires_grad is True for "
            f"{', '.join(trainable) or 'no parameter'}")
    names = student.tools.names_of(model, call_keep(student.ex6_transfer.trainable_parameters, model))
    if None in names:
        sample = student.ex6_transfer.trainable_parameters(model)
        sample = list(sample) if not isinstance(sample, (list, tuple)) else sample
        if sample and all(isinstance(s, str) for s in sample):
            hint = "it returned names: return the Parameter objects themselves (p, not name)"
        elif sample and all(isinstance(s, (tuple, list)) for s in sample):
            hint = "it returned (name, parameter) pairs: return the parameters alone"
        else:
            hint = ("it returned tensors that are not the model's parameters: no p.data, "
                    "p.detach() or p.clone(), which are copies the optimizer would update instead "
                    "of the model")
        raise AssertionError(f"{what} must return the model's own Parameter objects, but {hint}")
    assert len(names) == len(set(names)), (
        f"{what} returned some parameters more than once ({names}): each trainable parameter once. "
        "model.parameters() lists a parameter shared by two modules once; walking model.modules() or "
        "named_parameters(remove_duplicate=False) finds it twice, and the optimizer would update it twice"
    )
    assert sorted(names) == expected, (
        f"{what} returned the parameters {sorted(names)}, expected exactly those with "
        f"requires_grad=True, in any order: {expected}. Filter model.parameters() on p.requires_grad"
    )
    flags = student.tools.param_flags(model)
    assert flags == dict(zip(_SMALL_NAMES, mask)), (
        f"{what} changed requires_grad of the model's parameters (now {flags}): it must only read them"
    )
    # the flags as they are now, on every call (gradual unfreezing changes them between calls)
    flipped = [not m for m in mask]
    student.tools.set_trainable(model, [n for n, m in zip(_SMALL_NAMES, flipped) if m])
    again = student.tools.names_of(model, call_keep(student.ex6_transfer.trainable_parameters, model))
    flags = student.tools.param_flags(model)
    assert flags == dict(zip(_SMALL_NAMES, flipped)), (
        f"{what}, then again after the flags were flipped, changed requires_grad of the model's parameters "
        f"(now {flags}): it must only read them (no switching model.fc or any other layer on)"
    )
    assert sorted(n for n in again if n) == sorted(n for n, m in zip(_SMALL_NAMES, flipped) if m), (
        f"{what}, then again after the flags were flipped on the same model (now requires_grad is True for "
        f"{', '.join(n for n, m in zip(_SMALL_NAMES, flipped) if m) or 'no parameter'}): the second call "
        f"returned {sorted(n for n in again if n)}. Read requires_grad on every call: no result kept from an "
        "earlier call (a cache keyed by the model, a module-level list)"
    )


@pytest.mark.points(1)
def test_trainable_parameters_returns_list(student):
    model = _small_model(student, [True, False, False, True, True, True, True])
    result = call_keep(student.ex6_transfer.trainable_parameters, model)
    kind = student.tools.builtin_kind(result)  # a subclass of list is a list
    assert kind == "list", (
        f"trainable_parameters(model) returned a {kind}, expected a list of parameters. "
        "A generator or filter can be consumed only once (an optimizer or a second look at it "
        "finds it empty): return a list, e.g. [p for p in model.parameters() if p.requires_grad]"
    )


# --- vgg16_transfer ------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_vgg16_transfer_new_head(student):
    model, what = _build(student, "vgg16_transfer", num_classes=5, weights=None, meta=True)
    shapes = {n: tuple(s) for n, s in student.tools.param_shapes(model).items()}
    expected = _torchvision_shapes("vgg16", 5)
    head = model.classifier[6]
    kind = type_name(head)
    assert _is_linear(student, head, kind), (
        f"{what}: model.classifier[6] is a {kind}, expected the new head nn.Linear(4096, 5); "
        "replace that element: model.classifier[6] = nn.Linear(4096, num_classes)"
    )
    problems = [f"{n} is {shapes[n]}, expected {s}"
                for n, s in expected.items() if n in shapes and shapes[n] != s]
    got = (head.in_features, head.out_features)
    elsewhere = [p for p in problems if not p.startswith("classifier.6.")]
    assert got == (4096, 5), (
        f"{what}: model.classifier[6] is Linear({got[0]}, {got[1]}), expected Linear(4096, 5): "
        + (f"another layer was replaced instead ({'; '.join(elsewhere[:2])}): the last layer is "
           "classifier[6] (also classifier[-1])" if elsewhere else
           "use the num_classes argument, not ImageNet's 1000")
    )
    missing = [n for n in expected if n not in shapes]
    extra = [n for n in shapes if n not in expected]
    assert not (problems or missing or extra), (
        f"{what} does not have the parameters of torchvision's vgg16 with a Linear(4096, 5) head: "
        + "; ".join(problems[:5] + ([f"missing {_names(missing)}"] if missing else [])
                    + ([f"unexpected {_names(extra)}"] if extra else []))
        + ". Replace only the last layer, classifier[6]; classifier[0] (Linear(25088, 4096)) and "
        "classifier[3] (Linear(4096, 4096)) stay as they are, and so does features"
    )
    # ImageNet's 1000 classes: the old head has the right shape, but it is not new (with real
    # weights it would hold ImageNet's trained head). Seen by whether torchvision made the module.
    student.tools.forbid_downloads()
    built = student.tools.torchvision_builds(student.ex6_transfer.vgg16_transfer, "classifier.6", 1000,
                                             weights=None)
    assert not built["head_kept"], (
        "vgg16_transfer(num_classes=1000, weights=None): model.classifier[6] is the layer torchvision "
        "built, not a new one. Replace it always, model.classifier[6] = nn.Linear(4096, num_classes), also "
        "when num_classes is ImageNet's 1000: with real weights the old head holds ImageNet's trained "
        "classifier, and the handout asks for a new, untrained head"
    )


@pytest.mark.points(2)
def test_vgg16_transfer_freezes_features_only(student):
    model, what = _build(student, "vgg16_transfer", num_classes=3, weights=None, filled=True)
    flags = student.tools.param_flags(model)
    expected = _torchvision_shapes("vgg16", 3)
    assert set(flags) == set(expected), (
        f"{what} does not have the parameters of torchvision's vgg16 (differs in "
        f"{_names(set(flags) ^ set(expected))}): build torchvision.models.vgg16(weights=weights) "
        "and replace only classifier[6]"
    )
    trainable = {n for n in flags if n.startswith("classifier.")}
    _assert_flags(flags, trainable, what, rule=(
        "every parameter of model.features must have requires_grad=False and every parameter of "
        "model.classifier (the new classifier[6] included) requires_grad=True"))
    count = student.tools.param_count(model, trainable_only=True)
    head = sum(math.prod(s) for n, s in student.tools.param_shapes(model).items()
               if n.startswith("classifier.6."))
    assert count == _VGG_CLASSIFIER_BODY + head, (
        f"{what} has {count:,} trainable parameters, expected {_VGG_CLASSIFIER_BODY + head:,}: the "
        f"classifier's Linear(25088, 4096) and Linear(4096, 4096) ({_VGG_CLASSIFIER_BODY:,}) and the "
        f"new head classifier[6] ({head:,})"
    )
    # What freezing must achieve, on real tensors: a step leaves features bit-identical (a sample
    # of them: the whole state_dict is 553 MB) and without gradient, and it trains the new head.
    # The optimizer gets model.parameters() (it skips parameters without gradient), so that this
    # test grades vgg16_transfer alone, whatever trainable_parameters does.
    # classifier[0] and classifier[3] (119 M parameters, checked trainable above) sit the step
    # out: their gradients would be 480 MB of memory traffic and tell nothing about freezing.
    for name in _VGG_CLASSIFIER_BODY_PARAMS:
        call_keep(call_keep(model.get_parameter, name).requires_grad_, False)
    sample = _VGG_FROZEN_SAMPLE + ("classifier.6.weight",)
    before = {n: model.get_parameter(n) for n in sample}
    _step(student, model, what, num_classes=3, seed=91, params=call_keep(model.parameters))
    changed = [n for n in _VGG_FROZEN_SAMPLE if not torch.equal(before[n], model.get_parameter(n))]
    assert not changed, (
        f"{what}: after one SGD step (lr=0.1) over model.parameters() the frozen features changed "
        f"({', '.join(changed)}); they must stay bit-identical. Freeze model.features: "
        "model.features.requires_grad_(False)"
    )
    grads = student.tools.grad_summary(model)
    with_grad = [n for n, g in grads.items() if n.startswith("features.") and g is not None]
    assert not with_grad, (
        f"{what}: after the step, {len(with_grad)} parameters of model.features have a gradient "
        f"({_names(with_grad)}); frozen parameters must receive none (requires_grad=False)"
    )
    assert not torch.equal(before["classifier.6.weight"], model.get_parameter("classifier.6.weight")), (
        f"{what}: after one SGD step (lr=0.1) over model.parameters() the new head classifier[6] "
        f"did not change: it must be trainable. Hint: {_ORDER_HINT}"
    )


@pytest.mark.points(1)
def test_resnet18_transfer_passes_weights_to_torchvision(student):
    # Whoever rejects the unknown name (torchvision, or the student's own check) shows that
    # weights was looked at; a function that ignores it builds a model and returns normally.
    what = ("resnet18_transfer(3, weights='NO_SUCH_WEIGHTS') (an unknown weights name: hand weights to "
            "torchvision as it is, models.resnet18(weights=weights), and torchvision refuses it)")
    student.tools.forbid_downloads()
    with student_raises("Exception", what) as raised:
        student.ex6_transfer.resnet18_transfer(3, weights="NO_SUCH_WEIGHTS")
    _assert_not_a_download(raised, what)
    _assert_builds_with_imagenet_weights(student, "resnet18_transfer", "resnet18", "ResNet18_Weights", "fc by nn.Linear(512, num_classes)")


@pytest.mark.points(1)
def test_vgg16_transfer_passes_weights_to_torchvision(student):
    # Whoever rejects the unknown name (torchvision, or the student's own check) shows that
    # weights was looked at; a function that ignores it builds a model and returns normally.
    what = ("vgg16_transfer(3, weights='NO_SUCH_WEIGHTS') (an unknown weights name: hand weights to "
            "torchvision as it is, models.vgg16(weights=weights), and torchvision refuses it)")
    student.tools.forbid_downloads()
    with student_raises("Exception", what) as raised:
        student.ex6_transfer.vgg16_transfer(3, weights="NO_SUCH_WEIGHTS")
    _assert_not_a_download(raised, what)
    _assert_builds_with_imagenet_weights(student, "vgg16_transfer", "vgg16", "VGG16_Weights", "classifier[6] by nn.Linear(4096, num_classes)")


def _assert_adds_no_layer(student, model, what: str, arch: str, num_classes: int, head: str) -> None:
    """The model's modules (names and types) are torchvision's ``arch`` with ``num_classes``
    outputs: nothing wrapped, added or taken away."""
    got = [(name, kind) for name, kind in student.tools.module_types(model, as_nn=True) if name]
    with torch.device("meta"):
        expected = [(name, nn_class(m)) for name, m in getattr(torchvision.models, arch)(
                    num_classes=num_classes).named_modules(remove_duplicate=False) if name]
    extra = [f"{name} ({kind})" for name, kind in got if (name, kind) not in expected]
    missing = [f"{name} ({kind})" for name, kind in expected if (name, kind) not in got]
    softmax = any(kind in ("Softmax", "LogSoftmax", "Sigmoid") for _, kind in got)
    assert not (extra or missing), (
        f"{what} is not torchvision's {arch} with only {head} replaced: "
        + "; ".join(([f"extra {', '.join(extra[:4])}"] if extra else [])
                    + ([f"missing {', '.join(missing[:4])}"] if missing else []))
        + (". The model must return logits: nn.CrossEntropyLoss applies log-softmax itself, so a "
           "softmax at the end squashes the gradients and training stalls" if softmax else
           f". Replace {head} and change nothing else: no layer added, wrapped or removed")
    )


@pytest.mark.points(1)
def test_vgg16_transfer_adds_no_layer(student):
    model, what = _build(student, "vgg16_transfer", num_classes=5, weights=None, meta=True)
    _assert_adds_no_layer(student, model, what, "vgg16", 5, "classifier[6]")
    rates = [s.get("p") for _, kind, s in student.tools.layer_settings(model.classifier) if kind == "Dropout"]
    assert rates == [0.5, 0.5], (
        f"{what}: the classifier's dropout layers have p = {rates}, torchvision's vgg16 has two with "
        "p = 0.5: replace classifier[6] and change nothing else (not the dropout rate either)")


@pytest.mark.points(1)
def test_vgg16_transfer_default_weights_downloads_nothing(student):
    model, what = _build(student, "vgg16_transfer", 5, meta=True)  # weights left out: None by default
    kind = type_name(model.classifier[6])
    assert _is_linear(student, model.classifier[6], kind), f"{what}: classifier[6] is a {kind}, expected nn.Linear(4096, 5)"
