"""Hidden tests for exercise 3: VGG11 and VGG16 with dropout (20 points).

The student's modules live in the worker process; ``net`` below is a proxy to one. The layer
order of ``features`` and ``classifier`` is part of the specification (the ``state_dict`` keys
carry the positions), so the strongest checks copy one set of random weights into the student's
network and into the reference by ``state_dict`` and compare the outputs on the same random
images in eval mode. Dropout is checked from the outside: with the last linear layer(s) set to
identity matrices the output shows exactly which features dropout zeroed and how it scaled the
others, so the rate p is measured, not read from an attribute. VGG16 is built only a handful of
times (its state_dict is 134 MB). Every assertion message is the feedback a student sees.
"""

from __future__ import annotations

import contextlib
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st
from strategies import vgg_batch_sizes, vgg_in_channels, vgg_num_classes, vgg_seeds, vgg_small_configs

from autograder.testing import (StudentError, call_forward, call_keep, name_list, once_per_batch, student_error_text,
                                type_name)

pytestmark = pytest.mark.exercise("ex3")

VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]

#: Parameter counts for 10 classes, without and with batch norm.
_PARAMS = {
    ("vgg11", False): 9_225_610,
    ("vgg11", True): 9_231_114,
    ("vgg16", False): 33_638_218,
    ("vgg16", True): 33_646_666,
}
_CONV_PARAMS = {"vgg11": 9_220_480, "vgg16": 14_714_688}
_CLASSIFIER_PARAMS = {"vgg11": 5_130, "vgg16": 2_101_248 + 16_781_312 + 40_970}

_CLASSIFIER_TYPES = {
    "vgg11": ["Dropout", "Linear"],
    "vgg16": ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"],
}
_CLASSIFIER_TEXT = {
    "vgg11": "classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(512, num_classes))",
    "vgg16": (
        "classifier = nn.Sequential(nn.Linear(512, 4096), nn.ReLU(inplace=True), "
        "nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout), "
        "nn.Linear(4096, num_classes))"
    ),
}

#: Outputs are compared after 8 to 16 layers, in two processes that may use different kernels
#: and thread counts: float32 rounding differs a little, so the tolerance is relative to the size
#: of the logits.
_RTOL = 1e-4

_LAYER_RULE = (
    "for each integer v: Conv2d(c, v, 3, padding=1), then BatchNorm2d(v) only if batch_norm, then "
    "ReLU; for each 'M': MaxPool2d(2, 2); all directly inside one nn.Sequential, in this order"
)


# --- helpers -------------------------------------------------------------------------------------


def _kind(obj: object) -> str:
    try:
        return type_name(obj)
    except ImportError:  # the engine's proxy module is not there: a real object
        return type(obj).__name__


def _config_text(config) -> str:
    if config == VGG11:
        return 'VGG_CONFIGS["vgg11"]'
    if config == VGG16:
        return 'VGG_CONFIGS["vgg16"]'
    return repr(list(config))


def _expected_types(config, batch_norm: bool) -> list[str]:
    types: list[str] = []
    for v in config:
        if v == "M":
            types.append("MaxPool2d")
        else:
            types += ["Conv2d", "BatchNorm2d", "ReLU"] if batch_norm else ["Conv2d", "ReLU"]
    return types


def _images(batch_size: int, seed: int, channels: int = 3, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch_size, channels, size, size, generator=g)


def _random_weights(layout: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Fresh weights with the reference's keys and shapes, drawn from ``seed``: He-uniform
    convolution and linear weights (activations keep their scale through a deep ReLU stack, so a
    wrong layer shows in the logits), clearly non-zero biases, batch-norm statistics away from
    the defaults (so a batch norm in the wrong place or missing shows).

    Batch norm's ``num_batches_tracked`` counters are left out: they do not change the output,
    ``load_state_dict`` keeps a module's own counter when a plain dict lacks it, and 0-dim
    tensors are better not sent."""
    g = torch.Generator().manual_seed(seed)
    weights = {}
    for key, tensor in layout.items():
        layer, kind = key.rsplit(".", 1)
        if kind == "num_batches_tracked":
            continue
        u = torch.rand(tensor.shape, generator=g)
        own_weight = layout.get(f"{layer}.weight")
        is_norm = own_weight is not None and own_weight.dim() == 1
        if kind == "running_var":
            weights[key] = 0.5 + u
        elif kind == "running_mean" or (is_norm and kind == "bias"):
            weights[key] = (u * 2 - 1) * 0.2
        elif is_norm:  # batch norm's scale
            weights[key] = 0.5 + u
        elif kind == "weight":
            fan_in = math.prod(tensor.shape[1:])
            weights[key] = (u * 2 - 1) * math.sqrt(6.0 / fan_in)
        else:
            weights[key] = (u * 2 - 1) * 0.2
    return weights


#: Hints for the errors a wrong network raises most often (matched on PyTorch's message).
_ERROR_HINTS = (
    (
        "mat1 and mat2 shapes cannot be multiplied",
        "the flattened features do not match the first linear layer's in_features. For 32x32 "
        "images the features end as (N, 512, 1, 1) and flattening gives (N, 512); check that every "
        "convolution keeps the size (3x3, padding=1) and that each 'M' is MaxPool2d(2, 2)",
    ),
    (
        "is invalid for input of size",
        "a view/reshape does not fit the tensor: flatten with torch.flatten(x, 1) or "
        "x.view(x.size(0), -1), without a hard-coded size",
    ),
    (
        "channels",
        "a convolution got the wrong number of input channels: the first takes in_channels, each "
        "later one takes the previous convolution's output channels (update your channel count "
        "after each convolution)",
    ),
    (
        "size is too small",
        "a feature map became too small: every convolution must keep the height and width "
        "(kernel_size=3, padding=1) and every 'M' halves them (MaxPool2d(2, 2))",
    ),
    (
        "Kernel size can't be greater than actual input size",
        "a feature map became smaller than a 3x3 kernel: every convolution must keep the height "
        "and width (kernel_size=3, padding=1) and every 'M' halves them (MaxPool2d(2, 2)); "
        "without padding each convolution takes 2 pixels off",
    ),
    (
        "Output size is too small",
        "a feature map became too small: every convolution must keep the height and width "
        "(kernel_size=3, padding=1) and every 'M' halves them (MaxPool2d(2, 2))",
    ),
)


def _forward(net, x: torch.Tensor, what: str, hint: str = "") -> torch.Tensor:
    """``net(x)`` as a detached tensor; an error in the student's code becomes a failure that
    says which call it was and what the error usually means (or ``hint``, if given)."""
    return call_forward(net, x, what, ((("", hint),) if hint else ()) + _ERROR_HINTS)


def _assert_shape(out: torch.Tensor, expected: tuple, what: str, hint: str = "") -> None:
    got = tuple(out.shape)
    if got == expected:
        return
    if not hint:
        if len(expected) == 2 and len(got) == 1 and expected == (1, 1):
            hint = (
                "a dimension of size 1 is gone, the batch's or the classes': x.squeeze() removes every "
                "dimension of size 1. Flatten with torch.flatten(x, 1) or x.view(x.size(0), -1), and return "
                "the classifier's (N, num_classes) output as it is"
            )
        elif len(expected) == 2 and len(got) == 1 and expected[0] == 1:
            hint = (
                "the batch dimension is gone: with a single image x.squeeze() or torch.flatten(x) "
                "removes it too; flatten with torch.flatten(x, 1) or x.view(x.size(0), -1)"
            )
        elif len(expected) == 2 and len(got) == 2 and got[0] == expected[0]:
            hint = "the last linear layer must have num_classes outputs: use the num_classes argument"
        elif len(expected) == 2 and len(got) == 2:
            hint = (
                "one row per image: flatten everything but the batch dimension "
                "(torch.flatten(x, 1)) and do not hard-code a size"
            )
        else:
            hint = "print x.shape after each layer and compare with the shapes in the handout"
    raise AssertionError(f"{what} returned shape {got}, expected {expected}: {hint}")


def _children(student, seq, what: str) -> list[tuple[str, str, dict]]:
    """``(name, class name, settings)`` of each direct child of a student's Sequential (one call;
    a module used twice is listed twice)."""
    kind = _kind(seq)  # a subclass of nn.Sequential is one too
    assert kind == "Sequential" or student.tools.nn_class(seq) == "Sequential", (
        f"{what} must be an nn.Sequential (return nn.Sequential(*layers)), but it is a {kind}"
    )
    return [tuple(row) for row in student.tools.layer_settings(seq)]


def _type_problems(got: list[str], expected: list[str], where: str) -> str:
    """Where the student's layer list first departs from the expected one, in words."""
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            around = ", ".join(f"{j}: {t}" for j, t in enumerate(got[max(0, i - 2): i + 3], start=max(0, i - 2)))
            hint = ""
            if e == "ReLU" and g in ("MaxPool2d", "Conv2d"):
                hint = " (a ReLU is missing after a convolution)"
            elif e == "BatchNorm2d" and g == "ReLU":
                hint = " (batch norm goes between the convolution and its ReLU: conv -> BN -> ReLU)"
            elif e == "Conv2d" and g == "BatchNorm2d":
                hint = " (batch norm comes after its convolution, not before)"
            elif g == "AvgPool2d":
                hint = " (VGG uses max pooling: nn.MaxPool2d(2, 2))"
            elif g == "Sequential":
                hint = " (no nested Sequentials: put every layer directly in the one Sequential)"
            return f"{where}[{i}] is {g}, expected {e} (around it: {around}){hint}"
    if len(got) < len(expected):
        return (
            f"{where} has {len(got)} layers, expected {len(expected)}: the next expected layer is "
            f"{expected[len(got)]} at index {len(got)}"
        )
    return (
        f"{where} has {len(got)} layers, expected {len(expected)}: {where}[{len(expected)}] "
        f"({got[len(expected)]}) and after are extra"
    )


def _assert_types(student, seq, expected: list[str], what: str, rule: str) -> list[tuple[str, str, dict]]:
    rows = _children(student, seq, what)
    got = [kind for _, kind, _ in rows]
    if got != expected:
        raise AssertionError(
            f"{_type_problems(got, expected, what)}. The layers must be: {rule}. "
            f"Expected {expected}; yours are {got}"
        )
    return rows


def _settings_problems(rows: list[tuple[str, str, dict]], where: str) -> list[str]:
    """Convolutions and pools whose hyper-parameters are not VGG's, in words."""

    def pair(value):
        return tuple(value) if isinstance(value, (tuple, list)) else (value, value)

    problems = []
    for name, kind, s in rows:
        if kind == "Conv2d":
            wrong = []
            if "kernel_size" in s and pair(s["kernel_size"]) != (3, 3):
                wrong.append(f"kernel_size={s['kernel_size']} (expected 3)")
            if "padding" in s and s["padding"] != "same" and pair(s["padding"]) != (1, 1):
                wrong.append(f"padding={s['padding']} (expected 1: a 3x3 convolution with padding 1 keeps the size)")
            if "stride" in s and pair(s["stride"]) != (1, 1):
                wrong.append(f"stride={s['stride']} (expected 1)")
            if "dilation" in s and pair(s["dilation"]) != (1, 1):
                wrong.append(f"dilation={s['dilation']} (expected 1)")
            if s.get("groups", 1) != 1:
                wrong.append(f"groups={s['groups']} (expected 1)")
            if s.get("bias") is False:
                wrong.append("bias=False (keep the default bias, also with batch norm)")
            if s.get("padding_mode", "zeros") != "zeros":
                wrong.append(f"padding_mode={s['padding_mode']!r} (expected the default 'zeros': the border is "
                             "padded with zeros)")
            if wrong:
                problems.append(f"{where}[{name}] is a Conv2d with " + ", ".join(wrong))
        elif kind == "MaxPool2d":
            wrong = []
            if "kernel_size" in s and pair(s["kernel_size"]) != (2, 2):
                wrong.append(f"kernel_size={s['kernel_size']} (expected 2)")
            if "stride" in s and pair(s["stride"]) != (2, 2):
                wrong.append(f"stride={s['stride']} (expected 2)")
            if "padding" in s and pair(s["padding"]) != (0, 0):
                wrong.append(f"padding={s['padding']} (expected 0)")
            if "dilation" in s and pair(s["dilation"]) != (1, 1):
                wrong.append(f"dilation={s['dilation']} (expected 1)")
            if s.get("ceil_mode"):
                wrong.append("ceil_mode=True (expected False)")
            if wrong:
                problems.append(f"{where}[{name}] is a MaxPool2d with " + ", ".join(wrong))
    return problems


def _shapes(student, module, what: str) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of a student module's state_dict, computed in the worker (no tensors sent)."""
    shapes = student.tools.state_shapes(module)
    return {key: tuple(shape) for key, shape in shapes.items()}


def _ref_shapes(module) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in module.state_dict().items()}


def _layout_problems(student_sd: dict, ref_sd: dict[str, tuple[int, ...]]) -> list[str]:
    """What keeps the reference's weights from loading into the student's module, in words."""
    problems = []
    missing = [k for k in ref_sd if k not in student_sd]
    unexpected = [k for k in student_sd if k not in ref_sd]
    if missing:
        problems.append(f"missing keys {missing[:6]}{' ...' if len(missing) > 6 else ''}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected[:6]}{' ...' if len(unexpected) > 6 else ''}")
    if missing and any(k.endswith(".bias") for k in missing) and not unexpected:
        problems.append("a missing '.bias' means a layer was made with bias=False: keep the default bias")
    for key, shape in ref_sd.items():
        if key in student_sd and student_sd[key] != shape:
            problems.append(f"{key} has shape {student_sd[key]}, expected {shape}")
            if len(problems) > 8:
                break
    first = next((k for k in ("features.0.weight", "0.weight") if k in ref_sd and k in student_sd), None)
    if first and len(student_sd[first]) == 4 and student_sd[first][1] in (0, 1) and ref_sd[first][1] == 3:
        problems.insert(0, f"the first convolution takes {student_sd[first][1]} input channels, not 3: "
                           "make_features's second parameter is in_channels, so make_features(config, batch_norm) "
                           "hands the flag to in_channels (False is 0, True is 1). Pass it by keyword: "
                           "make_features(config, batch_norm=batch_norm)")
    return problems


def _assert_same_layout(
    student_sd: dict, ref_sd: dict[str, tuple[int, ...]], what: str, rule: str, explain=None
) -> None:
    problems = _layout_problems(student_sd, ref_sd)
    if not problems:
        return
    extra = explain() if explain is not None else ""
    raise AssertionError(
        f"{what}: the weights cannot be copied between yours and the reference by state_dict, "
        f"because the keys or shapes differ. The keys carry each layer's position ({rule}), so "
        "the layers, their order and their sizes must be exactly the specified ones. "
        + (f"{extra}. " if extra else "")
        + "Found: " + "; ".join(problems)
    )


def _first_type_problem(student, seq, expected: list[str], where: str) -> str:
    """The first place where a student's Sequential departs from the expected layer types, or ''."""
    try:
        rows = _children(student, seq, where)
    except (AssertionError, StudentError):
        return f"{where} is not an nn.Sequential"
    got = [kind for _, kind, _ in rows]
    return "" if got == expected else _type_problems(got, expected, where)


def _state_dict(module, what: str) -> dict:
    sd = module.state_dict()
    assert isinstance(sd, dict), f"{what}.state_dict() returned a {_kind(sd)}, not a dict"
    return sd


def _load(module, weights: dict, what: str) -> None:
    try:
        module.load_state_dict(weights)
    except BaseException as exc:
        found = student_error_text(exc)
        if found is None:
            raise
        raise AssertionError(
            f"{what}: loading the reference's weights with load_state_dict failed: {found[1]}"
        ) from None


def _assert_close(out: torch.Tensor, expected: torch.Tensor, what: str, explain) -> None:
    atol = _RTOL * max(1.0, float(expected.abs().max()))

    def message(default: str) -> str:
        diff = (out - expected).abs().max().item()
        return f"{what}: your output differs from the reference's (largest difference {diff:.3g}). " + explain()

    torch.testing.assert_close(out, expected, rtol=_RTOL, atol=atol, check_dtype=False, msg=message)


def _softmax_hint(out: torch.Tensor) -> str:
    if out.dim() == 2 and out.min() >= 0 and torch.allclose(out.sum(1), torch.ones(len(out)), atol=1e-4):
        return (
            " Every row of your output sums to 1: forward applies softmax. Return the classifier's "
            "output as it is (logits); nn.CrossEntropyLoss applies log-softmax itself."
        )
    return ""


# --- make_features -----------------------------------------------------------------------------


@pytest.mark.points(1)
@settings(max_examples=8)
@example(config=VGG11)
@example(config=VGG16)
@given(config=vgg_small_configs())
def test_make_features_layer_order(student, config):
    seq = student.ex3_vgg.make_features(list(config))
    what = f"make_features({_config_text(config)})"
    _assert_types(student, seq, _expected_types(config, False), what, _LAYER_RULE)


@pytest.mark.points(1)
@settings(max_examples=6)
@example(config=VGG11)
@given(config=vgg_small_configs())
def test_make_features_batch_norm_after_each_conv(student, config):
    seq = student.ex3_vgg.make_features(list(config), batch_norm=True)
    what = f"make_features({_config_text(config)}, batch_norm=True)"
    rows = _assert_types(student, seq, _expected_types(config, True), what, _LAYER_RULE)
    convs = [v for v in config if v != "M"]
    norms = [s.get("num_features") for _, kind, s in rows if kind == "BatchNorm2d"]
    assert norms == convs, (
        f"{what}: the batch norms have num_features {norms}, expected {convs}: each BatchNorm2d "
        "normalises the channels of the convolution just before it, BatchNorm2d(v)"
    )


@pytest.mark.points(1)
def test_make_features_honours_in_channels(student):
    cases = ((1, 21), (5, 22), (None, 23))
    for in_channels, seed in cases:
        config = [4, "M", 6]
        if in_channels is None:
            seq = student.ex3_vgg.make_features(config)
            what, channels = "make_features([4, 'M', 6]) (in_channels defaults to 3)", 3
        else:
            seq = student.ex3_vgg.make_features(config, in_channels)  # by position: (config, in_channels, batch_norm)
            what, channels = f"make_features([4, 'M', 6], {in_channels}) (in_channels={in_channels})", in_channels
        shape = _shapes(student, seq, what).get("0.weight")
        assert shape == (4, channels, 3, 3), (
            f"{what}: the first convolution's weight ('0.weight') has shape {shape}, expected "
            f"(4, {channels}, 3, 3): the first convolution is Conv2d(in_channels, 4, 3, padding=1). "
            "Start your channel count at in_channels, not at a fixed 3"
        )
        out = _forward(seq, _images(2, seed, channels=channels, size=8), f"{what} on a (2, {channels}, 8, 8) input")
        _assert_shape(
            out, (2, 6, 4, 4), f"{what} on a (2, {channels}, 8, 8) input",
            "each convolution keeps the height and width (kernel_size=3, padding=1) and changes the "
            "channels to v; each 'M' halves height and width (MaxPool2d(2, 2))",
        )


def _features_with_reference_weights(student, reference, config, in_channels: int, batch_norm: bool,
                                     seed: int, what: str):
    """``(student's, reference's)`` ``make_features(config, in_channels, batch_norm)`` holding the same
    seeded random weights; the student's layout is checked first."""
    ref = reference.ex3_vgg.make_features(list(config), in_channels=in_channels, batch_norm=batch_norm)
    w = _random_weights(ref.state_dict(), seed)
    ref.load_state_dict(w)
    seq = student.ex3_vgg.make_features(list(config), in_channels=in_channels, batch_norm=batch_norm)
    _assert_same_layout(
        _shapes(student, seq, what), _ref_shapes(ref), what, _LAYER_RULE,
        lambda: _first_type_problem(student, seq, _expected_types(config, batch_norm), "features"),
    )
    _load(seq, w, what)
    return seq, ref


@pytest.mark.points(1)
@settings(max_examples=10)
@example(config=[8, "M", 16, 16, "M", 24, "M", 32, 32, "M", 32, 32, "M"], in_channels=3, batch_norm=True, seed=0)
@example(config=[5, 7, "M", 3], in_channels=1, batch_norm=False, seed=1)
@given(config=vgg_small_configs(), in_channels=vgg_in_channels, batch_norm=st.booleans(), seed=vgg_seeds)
def test_make_features_matches_reference(student, reference, config, in_channels, batch_norm, seed):
    what = f"make_features({_config_text(config)}, in_channels={in_channels}, batch_norm={batch_norm})"
    seq, ref = _features_with_reference_weights(student, reference, config, in_channels, batch_norm, seed, what)
    ref.eval()
    seq.eval()
    size = 32 if config.count("M") > 3 else 16
    x = _images(2, seed + 1, channels=in_channels, size=size)
    what += f" in eval mode with the reference's weights, on a (2, {in_channels}, {size}, {size}) input"
    out = _forward(seq, x, what)
    with torch.no_grad():
        expected = ref(x)
    _assert_shape(
        out, tuple(expected.shape), what,
        "every convolution keeps the height and width (kernel_size=3, padding=1, stride 1) and "
        "every 'M' halves them (MaxPool2d(kernel_size=2, stride=2))",
    )

    def explain() -> str:
        problems = _settings_problems(_children(student, seq, what), "features")
        return (
            f"The layers are {_LAYER_RULE}. "
            + ("; ".join(problems) if problems else "Check each layer's settings and the order of the layers.")
        )

    _assert_close(out, expected, what, explain)


@pytest.mark.points(1)
def test_make_features_batch_norm_running_statistics(student, reference):
    what = (
        "make_features([4, 'M', 6], batch_norm=True) in train mode with the reference's weights and "
        "batch-norm statistics, after one forward pass on a (4, 3, 8, 8) input"
    )
    seq, ref = _features_with_reference_weights(student, reference, [4, "M", 6], 3, True, 25, what)
    seq.train()
    x = _images(4, seed=26, size=8)
    _forward(seq, x, what)
    ref.train()
    with torch.no_grad():
        ref(x)
    expected = ref.state_dict()
    got = _state_dict(seq, what)
    wrong = [
        key for key in expected
        if key.endswith((".running_mean", ".running_var"))
        and not torch.allclose(got[key].float(), expected[key], rtol=1e-4, atol=1e-6)
    ]
    first = next(key.rsplit(".", 1)[0] for key in expected if key.endswith(".running_mean"))
    assert not wrong or any(key.startswith(first + ".") for key in wrong), (
        f"{what}: the running statistics {wrong} differ from the reference's, but those of the first batch "
        f"norm (layer {first}) are right, so the batch norms themselves are (momentum and eps): the input of the "
        "later one differs. Check the layers between them: ReLU, MaxPool2d(kernel_size=2, stride=2) for "
        "'M', then Conv2d(c, v, 3, padding=1)"
    )
    problems = _settings_problems(_children(student, seq, what), "features") if wrong else []
    assert not problems, (
        f"{what}: the running statistics {wrong} differ from the reference's because the layers before "
        f"the batch norms do: {'; '.join(problems)}")
    assert not wrong, (
        f"{what}: the running statistics {wrong} differ from the reference's. Each BatchNorm2d(v) keeps "
        "PyTorch's defaults (momentum=0.1, eps=1e-5): one training batch moves running_mean to "
        "0.9 * running_mean + 0.1 * the batch's mean. momentum=0.9 is Keras' decay, the opposite "
        "convention (PyTorch's momentum = 1 - Keras' momentum): write nn.BatchNorm2d(v)"
    )


@pytest.mark.points(1)
def test_make_features_pools_round_down_on_odd_sizes(student, reference):
    what = (
        "make_features([4, 'M', 6, 'M']) in eval mode with the reference's weights, on a (2, 3, 15, 15) "
        "input"
    )
    seq, ref = _features_with_reference_weights(student, reference, [4, "M", 6, "M"], 3, False, 27, what)
    ref.eval()
    seq.eval()
    x = _images(2, seed=28, size=15)
    out = _forward(seq, x, what)
    with torch.no_grad():
        expected = ref(x)
    _assert_shape(
        out, tuple(expected.shape), what,
        "each 'M' is MaxPool2d(kernel_size=2, stride=2), which rounds down on odd sizes (15 -> 7 -> 3): "
        "ceil_mode=True keeps a partial last window (15 -> 8 -> 4), which is not VGG's pool",
    )

    def explain() -> str:
        problems = _settings_problems(_children(student, seq, what), "features")
        return f"The layers are {_LAYER_RULE}. " + ("; ".join(problems) if problems else "")

    _assert_close(out, expected, what, explain)


# --- VGG ---------------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_vgg_forward_flattens_features_into_classifier(student):
    nn = student.torch.nn
    student.tools.seed(31)
    features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.MaxPool2d(2, 2))
    classifier = nn.Linear(16, 5)
    net = student.ex3_vgg.VGG(features, classifier)
    what = (
        "VGG(features, classifier) with features = Sequential(Conv2d(3, 4, 3, padding=1), "
        "MaxPool2d(2, 2)), whose output is (N, 4, 2, 2), and classifier = Linear(16, 5)"
    )
    sd = _state_dict(net, what)
    keys = sorted(sd)
    expected_keys = ["classifier.bias", "classifier.weight", "features.0.bias", "features.0.weight"]
    assert keys == expected_keys, (
        f"{what}: its state_dict has the keys {keys}, expected {expected_keys}. Store the two "
        "arguments as self.features and self.classifier, and build no layers of your own in VGG"
    )
    assert student.tools.same(net.features, features) and student.tools.same(net.classifier, classifier), (
        f"{what}: net.features and net.classifier are not the modules passed in but copies of them. "
        "Store the arguments themselves (self.features = features): the caller's modules are the "
        "network's layers"
    )
    for batch_size, seed in ((1, 32), (3, 33)):
        x = _images(batch_size, seed, size=4)
        call = f"{what}, on a ({batch_size}, 3, 4, 4) input"
        flatten_hint = (
            "flatten every dimension but the batch, (N, 4, 2, 2) -> (N, 16), with "
            "torch.flatten(x, 1) or x.view(x.size(0), -1): not x.view(-1, 512) (the size is not "
            "always 512), not x.squeeze(), no pooling before flattening"
        )
        out = _forward(net, x, call, flatten_hint)
        with torch.no_grad():
            f = F.max_pool2d(F.conv2d(x, sd["features.0.weight"], sd["features.0.bias"], padding=1), 2, 2)
            expected = F.linear(torch.flatten(f, 1), sd["classifier.weight"], sd["classifier.bias"])
            channels_last = F.linear(
                f.permute(0, 2, 3, 1).reshape(batch_size, -1), sd["classifier.weight"], sd["classifier.bias"]
            )
        _assert_shape(out, (batch_size, 5), call, flatten_hint)

        def explain() -> str:
            text = (
                "forward must be self.features -> flatten (torch.flatten(x, 1)) -> self.classifier, "
                "returning the classifier's output as it is."
            )
            if torch.allclose(out, channels_last, rtol=1e-4, atol=1e-5):
                text += " Your output is what flattening in (height, width, channels) order gives."
            return text + _softmax_hint(out)

        _assert_close(out, expected, call, explain)
    # any pair of modules, stored as they are, and features run once per forward pass: a bare
    # BatchNorm2d as the features counts its training batches
    norm, head = nn.BatchNorm2d(3), nn.Linear(48, 2)
    net = student.ex3_vgg.VGG(norm, head)
    what = "VGG(features, classifier) with features = BatchNorm2d(3) (a module, not a Sequential) and classifier = Linear(48, 2)"
    assert student.tools.same(net.features, norm), (
        f"{what}: net.features is not the module passed in. VGG stores whatever two modules it is given "
        "as they are (self.features = features): no wrapping in a Sequential, no copy"
    )
    net.train()
    _forward(net, _images(2, 34, size=4), f"{what} in train mode, on a (2, 3, 4, 4) input")
    runs = int(norm.num_batches_tracked)
    assert runs == 1, (
        f"{what}: one forward pass in train mode ran the features {runs} times (the batch norm counted "
        f"{runs} batches), so every batch norm's running statistics move {runs} times per batch and the work "
        "is doubled. forward runs self.features once: x = self.features(x), then flatten, then classifier"
    )


# --- vgg11 -------------------------------------------------------------------------------------


@pytest.mark.points(1)
@settings(max_examples=3)
@example(batch_size=1, num_classes=None)
@example(batch_size=3, num_classes=7)
@given(batch_size=vgg_batch_sizes, num_classes=vgg_num_classes)
def test_vgg11_output_shape(student, batch_size, num_classes):
    if num_classes is None:
        net, what, classes = student.ex3_vgg.vgg11(), "vgg11() (num_classes defaults to 10)", 10
    else:
        net = student.ex3_vgg.vgg11(num_classes=num_classes)
        what, classes = f"vgg11(num_classes={num_classes})", num_classes
    net.eval()
    what += f" in eval mode on a ({batch_size}, 3, 32, 32) input"
    out = _forward(net, _images(batch_size, seed=batch_size), what)
    _assert_shape(out, (batch_size, classes), what)


def _assert_param_count(student, name: str) -> None:
    for batch_norm in (False, True):
        build = getattr(student.ex3_vgg, name)
        kwargs, call = ({"batch_norm": True}, f"{name}(batch_norm=True)") if batch_norm else ({}, f"{name}()")
        net = student.tools.build_on_meta(build, **kwargs)  # counts only: no initial weights needed
        total = student.tools.param_count(net)
        expected = _PARAMS[(name, batch_norm)]
        if total == expected:
            continue
        if batch_norm:  # the second network built in this test: was the first built by consuming VGG_CONFIGS?
            _assert_configs_untouched(student, f"{name}()")
        parts = []
        try:
            features = student.tools.param_count(net.features)
            classifier = student.tools.param_count(net.classifier)
        except StudentError:
            parts.append("(it has no features or classifier attribute to count separately)")
        else:
            conv = _CONV_PARAMS[name] + (expected - _PARAMS[(name, False)])
            if features != conv:
                if batch_norm and features == _CONV_PARAMS[name]:
                    why = (
                        "exactly the count without batch norm: pass batch_norm on to make_features"
                    )
                elif batch_norm:
                    why = (
                        "each BatchNorm2d(v) after a convolution with v output channels adds 2*v "
                        "(its weight and bias); the convolutions alone hold "
                        f"{_CONV_PARAMS[name]:,}"
                    )
                else:
                    why = (
                        f'the convolutions of VGG_CONFIGS["{name}"], each Conv2d(c, v, 3, '
                        "padding=1) with its bias, where c is the previous convolution's v"
                    )
                parts.append(f"features has {features:,}, expected {conv:,} ({why})")
            if classifier != _CLASSIFIER_PARAMS[name]:
                parts.append(
                    f"classifier has {classifier:,}, expected {_CLASSIFIER_PARAMS[name]:,}: "
                    + _CLASSIFIER_TEXT[name]
                )
        raise AssertionError(
            f"{call} has {total:,} parameters, expected {expected:,}. " + "; ".join(parts)
        )


@pytest.mark.points(1)
def test_vgg11_parameter_counts(student):
    _assert_param_count(student, "vgg11")


def _assert_configs_untouched(student, call: str) -> None:
    """Building a network must leave ``VGG_CONFIGS`` as it was (a ``config.pop(0)`` empties it,
    and the next network comes out without layers)."""
    configs = student.ex3_vgg.VGG_CONFIGS
    changed = [name for name, config in (("vgg11", VGG11), ("vgg16", VGG16))
               if list(configs.get(name, [])) != config]
    assert not changed, (
        f"after {call}, VGG_CONFIGS[{changed[0]!r}] is {list(configs.get(changed[0], []))}, expected "
        f"{VGG11 if changed[0] == 'vgg11' else VGG16}: building a network changed the configuration it "
        "was built from (list.pop, del or remove on the config), so the next network built from it comes "
        "out different. Read the config, e.g. `for v in config:`, and never modify it")


#: nn.BatchNorm2d(v)'s defaults, which every batch norm of the features keeps.
_BN_DEFAULTS = {"momentum": 0.1, "eps": 1e-5, "affine": True, "track_running_stats": True}


def _assert_default_batch_norms(rows, where: str) -> None:
    for name, kind, found in rows:
        if kind != "BatchNorm2d":
            continue
        off = [f"{key}={found.get(key)!r}" for key, value in _BN_DEFAULTS.items()
               if not (isinstance(found.get(key), (bool, int, float)) and found.get(key) == pytest.approx(value))]
        assert not off, (
            f"{where}[{name}] is a BatchNorm2d with {', '.join(off)}: every batch norm is nn.BatchNorm2d(v) with "
            "PyTorch's defaults (momentum=0.1, eps=1e-5, affine=True, track_running_stats=True), in vgg11 "
            "and vgg16 alike (both build their features with make_features)"
        )


@pytest.mark.points(1)
def test_vgg_layer_types(student):
    for name, config in (("vgg11", VGG11), ("vgg16", VGG16)):
        for batch_norm in (False, True):
            net = student.tools.build_on_meta(getattr(student.ex3_vgg, name), batch_norm=batch_norm)  # layers only
            call = f"{name}(batch_norm={batch_norm})"
            _assert_configs_untouched(student, call)
            rows = _assert_types(
                student, net.features, _expected_types(config, batch_norm), f"{call}.features",
                f'make_features(VGG_CONFIGS["{name}"], batch_norm={batch_norm}): {_LAYER_RULE}',
            )
            _assert_default_batch_norms(rows, f"{call}.features")
            _assert_types(
                student, net.classifier, _CLASSIFIER_TYPES[name], f"{call}.classifier", _CLASSIFIER_TEXT[name]
            )


@pytest.mark.points(1)
def test_vgg_networks_have_layers_of_their_own(student):
    # Two calls with the same arguments: the same layers (no state kept between calls), but new
    # ones (no cached or module-level layers): training one network must never change another.
    ex3 = student.ex3_vgg
    calls = (("make_features([8, 'M', 16], batch_norm=True)", ex3.make_features, ([8, "M", 16],), {"batch_norm": True}),
             ("vgg11(batch_norm=True)", ex3.vgg11, (), {"batch_norm": True}),
             ("vgg16()", ex3.vgg16, (), {}))
    for call, factory, args, kwargs in calls:
        first, second = (student.tools.build_on_meta(factory, *args, **kwargs) for _ in range(2))
        shapes = [student.tools.param_shapes(net) for net in (first, second)]
        assert shapes[0] == shapes[1], (
            f"calling {call} twice gave different layers: {len(shapes[0])} parameter tensors the first "
            f"time, {len(shapes[1])} the second. The result must depend on the arguments alone: keep no "
            "state between calls (a mutable default argument such as `layers=[]`, a module-level list "
            "appended to, a config modified in place)")
        ids = [student.tools.param_ids(net) for net in (first, second)]
        shared = sorted(name for name, i in ids[0].items() if i in set(ids[1].values()))
        assert not shared, (
            f"two networks built by calling {call} twice share layers ({name_list(shared)}): training "
            "one would train the other. Build new layers on every call (nn.Conv2d(...), nn.Linear(...) "
            "inside the function), never layers cached or made once at module level")
        modules = [student.tools.module_ids(net) for net in (first, second)]
        shared = sorted(name for name, i in modules[0].items() if i in set(modules[1].values()))
        assert not shared, (
            f"two networks built by calling {call} twice share layers without weights ({name_list(shared)}): "
            "the very same module objects, made once at module level or cached. Build every layer on every "
            "call, nn.ReLU(inplace=True) and nn.MaxPool2d(2, 2) included: a layer shared between networks "
            "shares its hooks, its train/eval mode and anything set on it")


@pytest.mark.points(1)
def test_vgg_gradients_reach_every_layer(student):
    # vgg11 with batch norm and vgg16 without: every parameter must get a gradient in train mode
    for name, batch_norm in (("vgg11", True), ("vgg16", False)):
        net = student.tools.build_filled(getattr(student.ex3_vgg, name), num_classes=10, batch_norm=batch_norm)
        what = (f"one training step of {name}(num_classes=10, batch_norm={batch_norm}) in train mode "
                "(cross-entropy loss on 2 images, loss.backward(), SGD with lr=0)")
        optimizer = student.torch.optim.SGD(call_keep(net.parameters), lr=0.0)
        try:
            student.tools.train_step(net, optimizer, _images(2, seed=97), torch.tensor([1, 8]))
        except StudentError as exc:
            if "inplace operation" in exc.message:
                raise AssertionError(
                    f"{what}: loss.backward() raised ({exc.message}): a layer overwrote, in place, a tensor "
                    "that backward needs. Typically nn.Dropout(inplace=True) right after "
                    "nn.ReLU(inplace=True): keep ReLU(inplace=True) and use nn.Dropout(p) without inplace"
                ) from None
            if "does not require grad" in exc.message:
                raise AssertionError(
                    f"{what}: loss.backward() raised ({exc.message}): the output is not connected to the "
                    "weights. Do not run forward under torch.no_grad(), do not detach the activations, "
                    "and do not freeze the network's parameters: it must be trainable"
                ) from None
            raise
        grads = student.tools.grad_summary(net)
        without = [n for n, g in grads.items() if g is None]
        assert not without, (
            f"{what}: these parameters got no gradient: {name_list(without)}. Every layer must be "
            "trained by loss.backward(): no requires_grad=False on the network's own parameters, and no "
            "x.detach(), x.data or torch.no_grad() anywhere in forward (between features and classifier "
            "included)"
        )


@once_per_batch
def _reference_vgg(reference, name: str, num_classes: int, batch_norm: bool, seed: int):
    """The reference network in eval mode with seeded random weights, and those weights (read-only)."""
    ref = getattr(reference.ex3_vgg, name)(num_classes=num_classes, batch_norm=batch_norm).eval()
    w = _random_weights(ref.state_dict(), seed)
    ref.load_state_dict(w)
    return ref, w


@once_per_batch
def _reference_vgg_logits(reference, name: str, num_classes: int, batch_norm: bool, seed: int,
                          batch_size: int) -> torch.Tensor:
    ref, _ = _reference_vgg(reference, name, num_classes, batch_norm, seed)
    with torch.no_grad():
        return ref(_images(batch_size, seed + batch_size))


def _assert_matches_reference(student, reference, name: str, batch_norm: bool, cases) -> None:
    config = VGG11 if name == "vgg11" else VGG16
    for num_classes, seed, batch_sizes in cases:
        call = f"{name}(num_classes={num_classes}, batch_norm={batch_norm})"
        ref, w = _reference_vgg(reference, name, num_classes, batch_norm, seed)
        # every weight is replaced by the reference's below: no time for initial weights
        net = student.tools.build_filled(getattr(student.ex3_vgg, name), num_classes=num_classes,
                                         batch_norm=batch_norm)
        rule = (
            f'features = make_features(VGG_CONFIGS["{name}"], batch_norm=batch_norm), '
            + _CLASSIFIER_TEXT[name]
        )
        def layer_problems() -> str:
            try:
                features, classifier = net.features, net.classifier
            except StudentError:
                return "It needs the attributes features and classifier"
            found = [
                _first_type_problem(student, features, _expected_types(config, batch_norm), "features"),
                _first_type_problem(student, classifier, _CLASSIFIER_TYPES[name], "classifier"),
            ]
            return "; ".join(text for text in found if text)

        _assert_same_layout(_shapes(student, net, call), _ref_shapes(ref), call, rule, layer_problems)
        _load(net, w, call)
        del w
        net.eval()
        for batch_size in batch_sizes:
            x = _images(batch_size, seed + batch_size)
            what = f"{call} in eval mode with the reference's weights, on a ({batch_size}, 3, 32, 32) input"
            out = _forward(net, x, what)
            expected = _reference_vgg_logits(reference, name, num_classes, batch_norm, seed, batch_size)
            _assert_shape(out, (batch_size, num_classes), what)

            def explain() -> str:
                problems = _settings_problems(_children(student, net.features, f"{call}.features"), "features")
                rows = _children(student, net.classifier, f"{call}.classifier")
                kinds = [kind for _, kind, _ in rows]
                if kinds != _CLASSIFIER_TYPES[name]:
                    problems.append(f"the classifier's layers are {kinds}, expected {_CLASSIFIER_TYPES[name]}")
                text = (
                    f"It must be VGG(features, classifier) with {rule}, forward = features -> "
                    "flatten -> classifier. "
                )
                text += "; ".join(problems) if problems else "Check the order of the layers and the forward pass."
                return text + _softmax_hint(out)

            _assert_close(out, expected, what, explain)


@pytest.mark.points(1)
def test_vgg11_matches_reference(student, reference):
    _assert_matches_reference(student, reference, "vgg11", False, ((7, 42, (1, 3)),))


@pytest.mark.points(1)
def test_vgg11_batch_norm_matches_reference(student, reference):
    _assert_matches_reference(student, reference, "vgg11", True, ((10, 51, (2,)),))


@pytest.mark.points(1)
def test_vgg11_dropout_only_in_train_mode(student):
    # seeded non-zero weights: a head initialised to zero (allowed) would hide dropout behind its bias
    # (build_filled builds for real where the code cannot run on the meta device, e.g. a .to(device)
    # in vgg11: the head then gets seeded weights here)
    net = student.tools.build_filled(student.ex3_vgg.vgg11, num_classes=10, dropout=0.5)
    head = torch.rand(10, 512, generator=torch.Generator().manual_seed(60)).sub_(0.5).div_(512 ** 0.5)
    with contextlib.suppress(StudentError):  # another layout: its own test says so
        net.classifier.load_state_dict({"1.weight": head, "1.bias": torch.zeros(10)})
    x = _images(2, seed=61)
    net.train()
    student.tools.seed(62)
    what = "vgg11(dropout=0.5) in train mode, called twice on the same (2, 3, 32, 32) input"
    first, second = _forward(net, x, what), _forward(net, x, what)
    assert not torch.equal(first, second), (
        f"{what}, gave the same output twice: dropout is not active in train mode. The classifier "
        "starts with nn.Dropout(dropout), which zeroes random features while the model is training"
    )
    net.eval()
    what = "vgg11(dropout=0.5) in eval mode (after model.eval()), called twice on the same input"
    first, second = _forward(net, x, what), _forward(net, x, what)
    assert torch.equal(first, second), (
        f"{what}, gave two different outputs: dropout must be off in eval mode. Use nn.Dropout (it "
        "follows model.train() / model.eval()) rather than F.dropout(x, p) with training left True"
    )


def _dropout_ratios(f: torch.Tensor, t: torch.Tensor, c: float, keep: float, what: str, layers: str) -> None:
    """``f``: the features reaching dropout (eval mode); ``t``: the train-mode output, which must be
    ``mask * f / keep + c`` with a random 0/1 mask of mean ``keep``. Checks both rules."""
    used = f.abs() > 1e-2 * f.abs().max()
    n = int(used.sum())
    assert n >= 500, (
        f"{what}: too few non-zero features reach the classifier ({n}) to measure dropout; "
        "with random weights about half of the 512 features of each image are non-zero. Check "
        "that features ends in ReLU and max pooling as specified"
    )
    ratio = ((t - c) / f)[used]
    kept = (ratio - 1 / keep).abs() < 1e-3 * (1 / keep)
    dropped = ratio.abs() < 1e-3
    odd = ~(kept | dropped)
    p = 1 - keep
    if odd.any():
        sample = [round(r, 4) for r in ratio[odd][:4].tolist()]
        survivors = ratio[~dropped]
        scale = float(survivors.median()) if len(survivors) else 0.0
        same_scale = len(survivors) and bool(((survivors - scale).abs() < 1e-3 * abs(scale)).all())
        if same_scale and abs(scale - 1) < 1e-3:
            why = (
                "the surviving features come out unscaled, exactly as in eval mode: no dropout is "
                "active in train mode (use nn.Dropout(dropout), which follows model.train())"
            )
        elif same_scale and scale > 1:
            why = (
                f"the surviving features are scaled by {scale:.4g}, which is what a keep "
                f"probability of {1 / scale:.3g} gives, not {keep:.3g}: pass the dropout argument "
                "to every nn.Dropout (do not hard-code 0.5, and p is the probability to ZERO a "
                "feature, not to keep it)"
            )
        else:
            why = (
                f"some output/feature ratios are {sample}: something other than dropout changes the "
                "output in train mode, or it acts after the last linear layer, or the output is "
                "not returned as it is (softmax?)"
            )
        raise AssertionError(
            f"{what}: in train mode each feature must come out either zeroed or scaled by "
            f"{1 / keep:.4g} ({layers}), but {why}"
        )
    zeroed = float(dropped.float().mean())
    assert abs(zeroed - p) < 0.1, (
        f"{what}: in train mode {zeroed:.1%} of the features were zeroed, expected about "
        f"{p:.0%} (p = {p:.3g}): pass the dropout argument to nn.Dropout(dropout), do not "
        "hard-code 0.5, and note that p is the probability to ZERO a feature, not to keep it"
    )


@pytest.mark.points(1)
def test_vgg11_dropout_rate(student):
    # p = 0 too: the Dropout layer is still there (the layer list is fixed) and zeroes nothing.
    # Arguments by position, in the handout's order vgg11(num_classes, dropout, batch_norm).
    for p, seed in ((0.2, 71), (0.65, 72), (0.0, 73)):
        net = student.ex3_vgg.vgg11(512, p)
        what = f"vgg11(512, {p}) (num_classes=512, dropout={p}) with classifier[1] = identity matrix"
        eye = torch.eye(512)
        x = _images(8, seed)
        # Eval mode, bias 0: the output is the 512 features themselves.
        try:
            net.classifier.load_state_dict({"1.weight": eye, "1.bias": torch.zeros(512)})
        except StudentError as exc:
            raise AssertionError(
                f"{what}: could not set the weights of classifier[1] ({exc.message}). "
                + _CLASSIFIER_TEXT["vgg11"] + ", so classifier[1] is the Linear(512, num_classes)"
            ) from None
        if p == 0.0:
            _assert_types(
                student, net.classifier, _CLASSIFIER_TYPES["vgg11"], f"vgg11(512, {p}).classifier",
                _CLASSIFIER_TEXT["vgg11"] + " whatever the rate: with dropout=0.0 the Dropout layer is still "
                "there (and zeroes nothing), so that the layer list and the state_dict are always the same",
            )
        net.eval()
        f = _forward(net, x, what + " in eval mode")
        _assert_shape(f, (8, 512), what + " in eval mode")
        # Train mode, bias c: the output is dropout(features) + c.
        c = float(f.abs().max())
        net.classifier.load_state_dict({"1.weight": eye, "1.bias": torch.full((512,), c)})
        net.train()
        student.tools.seed(seed)
        t = _forward(net, x, what + " in train mode")
        _assert_shape(t, (8, 512), what + " in train mode")
        _dropout_ratios(
            f, t, c, 1 - p, what,
            "classifier = Dropout(p) then Linear: the dropout acts on the 512 features, BEFORE the "
            "linear layer, and scales the kept ones by 1/(1-p)",
        )


# --- vgg16 -------------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_vgg16_parameter_counts(student):
    _assert_param_count(student, "vgg16")


@pytest.mark.points(1)
def test_vgg16_matches_reference(student, reference):
    _assert_matches_reference(student, reference, "vgg16", False, ((7, 81, (1, 2)),))


@pytest.mark.points(1)
def test_vgg16_dropout(student):
    p = 0.3
    # by position, in the handout's order vgg16(num_classes=10, dropout=0.5, batch_norm=False); any features do
    net = student.tools.build_filled(student.ex3_vgg.vgg16, 512, p)
    what = (
        f"vgg16(512, {p}) (num_classes=512, dropout={p}, by position) with identity matrices in classifier[0] (embedding), "
        "classifier[3] and classifier[6] (projection)"
    )
    eye = torch.eye(512)
    embed = torch.cat([eye, torch.zeros(4096 - 512, 512)])  # 512 -> 4096, the features first
    weights = {
        "0.weight": embed, "0.bias": torch.zeros(4096),
        "3.weight": call_keep(student.torch.eye, 4096), "3.bias": torch.zeros(4096),
        "6.weight": embed.t().contiguous(), "6.bias": torch.zeros(512),
    }
    try:
        net.classifier.load_state_dict(weights)
    except StudentError as exc:
        raise AssertionError(
            f"{what}: could not set the classifier's weights ({exc.message}). "
            + _CLASSIFIER_TEXT["vgg16"]
        ) from None
    x = _images(4, seed=91)
    net.eval()
    f = _forward(net, x, what + " in eval mode")
    _assert_shape(f, (4, 512), what + " in eval mode")
    again = _forward(net, x, what + " in eval mode")
    assert torch.equal(f, again), (
        f"{what}: two calls in eval mode gave different outputs: dropout must be off in eval mode "
        "(use nn.Dropout, which follows model.train() / model.eval())"
    )
    c = float(f.abs().max())
    weights["6.bias"] = torch.full((512,), c)
    net.classifier.load_state_dict(weights)
    net.train()
    student.tools.seed(92)
    t = _forward(net, x, what + " in train mode")
    _assert_shape(t, (4, 512), what + " in train mode")
    _dropout_ratios(
        f, t, c, (1 - p) ** 2, what,
        "two Dropout(p) layers in a row here, a feature survives both with probability (1-p)^2 and "
        "is then scaled by 1/(1-p)^2",
    )
    off = student.tools.build_on_meta(student.ex3_vgg.vgg16, dropout=0.0)  # layers only
    ps = [s.get("p") for _, kind, s in _children(student, off.classifier, "vgg16(dropout=0.0).classifier")
          if kind.startswith("Dropout")]
    assert len(ps) == 2 and all(p == 0 for p in ps), (
        f"vgg16(dropout=0.0) has dropout layers with p = {ps}, expected two with p = 0: use the "
        "argument as it is, also when it is 0 (`dropout or 0.5` turns 0 into 0.5), and keep both "
        "Dropout layers (the classifier's layers are fixed)"
    )


@pytest.mark.points(1)
def test_vgg_dropout_defaults_to_half(student):
    wrong = []
    for name in ("vgg11", "vgg16"):
        net = student.tools.build_on_meta(getattr(student.ex3_vgg, name))  # layers only
        rows = _children(student, net.classifier, f"{name}().classifier")
        ps = [s.get("p") for _, kind, s in rows if kind.startswith("Dropout")]
        if not ps or any(p != 0.5 for p in ps):
            wrong.append(f"{name}() has dropout layers with p = {ps}")
    assert not wrong, (
        "; ".join(wrong) + ": without a dropout argument both networks use the default "
        "dropout=0.5 (the signature is vgg11(num_classes=10, dropout=0.5, batch_norm=False), and the "
        "same for vgg16), the rate of the VGG paper"
    )
