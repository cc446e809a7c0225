"""Hidden tests for exercise 4: a residual ``BasicBlock`` and a CIFAR ``resnet18`` (20 points).

The student's modules live in the worker process; ``block`` and ``net`` below are proxies to them.
The strongest checks copy one set of random weights (batch-norm running statistics included) into
both the student's module and the reference by ``state_dict`` and compare the outputs on the same
random input, in eval mode (running statistics) and in train mode (batch statistics). That proves
the architecture and the forward pass right whatever style the student chose: an ``nn.Identity()``,
an empty ``nn.Sequential()``, ``lambda x: x`` or a ``None`` check for the identity shortcut,
``F.relu`` or ``nn.ReLU`` modules, ``flatten`` or ``view``. Layouts are read with
``student.tools.state_shapes`` and parameter counts with ``student.tools.param_count``, so a
ResNet-18 (45 MB of weights) only crosses the process boundary where a test needs its values.
Every assertion message is the feedback a student sees, so each one says what was called, what
came back, what was expected and where to look.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, example, given, settings
from strategies import resnet_block_configs, resnet_block_input_sizes, resnet_seeds

from autograder.testing import (StudentAttributeError, StudentError, StudentImportError, StudentNotImplemented,
                               call_forward, call_keep, once_per_batch, type_name)

pytestmark = pytest.mark.exercise("ex4")

#: Each hypothesis example builds and runs a block in the worker: keep the counts small, never
#: time examples (a call crosses a process boundary), and allow the ``student`` fixture.
_EXAMPLES = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: The same weights and inputs give the same numbers up to float32 rounding (the worker may use
#: another thread count than this process, so convolutions may sum in another order).
_RTOL, _ATOL = 1e-4, 1e-5
_NET_RTOL, _NET_ATOL = 1e-4, 1e-4  # 18 layers of rounding

_BLOCK_RULE = (
    "out = relu(bn1(conv1(x))); out = bn2(conv2(out)); out = out + shortcut(x); return relu(out), "
    "with conv1 a 3x3 convolution with the block's stride and conv2 a 3x3 convolution with "
    "stride 1 (both padding 1, bias=False)"
)
_SHORTCUT_RULE = (
    "the shortcut is the identity when stride == 1 and in_channels == out_channels, and otherwise "
    "nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False), "
    "nn.BatchNorm2d(out_channels))"
)
_NET_RULE = (
    "relu(bn1(conv1(x))) with conv1 = Conv2d(3, 64, 3, stride=1, padding=1, bias=False) and no "
    "max-pool -> layer1 -> layer2 -> layer3 -> layer4 -> adaptive average pool to 1x1 -> flatten "
    "-> fc"
)

#: ResNet-18's stages: name, output channels, stride of the first block, output size for 32x32.
_STAGES = (("layer1", 64, 1, 32), ("layer2", 128, 2, 16), ("layer3", 256, 2, 8), ("layer4", 512, 2, 4))

#: Parameters of each part of resnet18(num_classes=10).
_NET_PARTS = {
    "conv1": 1_728, "bn1": 128, "layer1": 147_968, "layer2": 525_568, "layer3": 2_099_712,
    "layer4": 8_393_728, "fc": 5_130,
}
_NET_TOTAL = 11_173_962

_BUFFERS = (".running_mean", ".running_var", ".num_batches_tracked")


# --- helpers -------------------------------------------------------------------------------------


def _kind(obj: object) -> str:
    try:
        return type_name(obj)
    except ImportError:  # the engine's proxy module is not there: a real object
        return type(obj).__name__


def _block_call(config: dict) -> str:
    return (
        f"BasicBlock({config['in_channels']}, {config['out_channels']}, "
        f"stride={config.get('stride', 1)})"
    )


def _needs_projection(config: dict) -> bool:
    return config.get("stride", 1) != 1 or config["in_channels"] != config["out_channels"]


def _tensor(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g)


def _random_weights(layout: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Fresh weights and batch-norm statistics with the reference's keys and shapes, drawn from
    ``seed``: He-uniform convolution weights, batch-norm scales in [0.5, 1.5] and clearly non-zero
    shifts and running means (so a ReLU in the wrong place, or a missing one, shows), running
    variances in [0.5, 1.5]. ``num_batches_tracked`` is kept."""
    g = torch.Generator().manual_seed(seed)

    def uniform(shape, low, high):
        return torch.rand(shape, generator=g) * (high - low) + low

    weights = {}
    for key, tensor in layout.items():
        shape = tensor.shape
        if key.endswith(".num_batches_tracked"):
            weights[key] = tensor.clone()
        elif key.endswith(".running_mean"):
            weights[key] = uniform(shape, -0.3, 0.3)
        elif key.endswith(".running_var"):
            weights[key] = uniform(shape, 0.5, 1.5)
        elif key.endswith(".weight") and tensor.dim() > 1:  # convolution or linear
            bound = math.sqrt(6.0 / math.prod(shape[1:]))
            weights[key] = uniform(shape, -bound, bound)
        elif key.endswith(".weight"):  # batch-norm scale
            weights[key] = uniform(shape, 0.5, 1.5)
        else:  # batch-norm shift or linear bias
            weights[key] = uniform(shape, -0.3, 0.3)
    return weights


def _bn(x: torch.Tensor, w: dict, prefix: str, training: bool) -> torch.Tensor:
    return F.batch_norm(
        x, w[prefix + "running_mean"].clone(), w[prefix + "running_var"].clone(),
        w[prefix + "weight"], w[prefix + "bias"], training=training, momentum=0.1, eps=1e-5,
    )


def _block(
    w: dict, x: torch.Tensor, stride: int, prefix: str = "", *, training: bool = False,
    final_relu: bool = True, relu_residual: bool = False, stride_on_conv2: bool = False,
    bn2_after_add: bool = False,
) -> torch.Tensor:
    """The reference block written out, with knobs to recompute common mistakes."""
    s1, s2 = (1, stride) if stride_on_conv2 else (stride, 1)
    out = F.relu(_bn(F.conv2d(x, w[prefix + "conv1.weight"], stride=s1, padding=1), w, prefix + "bn1.", training))
    out = F.conv2d(out, w[prefix + "conv2.weight"], stride=s2, padding=1)
    if not bn2_after_add:
        out = _bn(out, w, prefix + "bn2.", training)
    if relu_residual:
        out = F.relu(out)
    if prefix + "shortcut.0.weight" in w:
        shortcut = F.conv2d(x, w[prefix + "shortcut.0.weight"], stride=stride)
        shortcut = _bn(shortcut, w, prefix + "shortcut.1.", training)
    else:
        shortcut = x
    out = out + shortcut
    if bn2_after_add:
        out = _bn(out, w, prefix + "bn2.", training)
    return F.relu(out) if final_relu else out


def _resnet18(
    w: dict, x: torch.Tensor, *, training: bool = False, stem_relu: bool = True,
    stem_pool: bool = False, pool=F.adaptive_avg_pool2d, **block_knobs,
) -> torch.Tensor:
    """The reference ResNet-18 written out, with knobs to recompute common mistakes."""
    out = _bn(F.conv2d(x, w["conv1.weight"], padding=1), w, "bn1.", training)
    out = F.relu(out) if stem_relu else out
    out = F.max_pool2d(out, 3, 2, 1) if stem_pool else out
    for name, _, stride, _ in _STAGES:
        out = _block(w, out, stride, f"{name}.0.", training=training, **block_knobs)
        out = _block(w, out, 1, f"{name}.1.", training=training, **block_knobs)
    out = torch.flatten(pool(out, 1), 1)
    return F.linear(out, w["fc.weight"], w["fc.bias"])


_BLOCK_MISTAKES = (
    ("the ReLU after the addition is missing: the block returns out + shortcut(x) as it is",
     dict(final_relu=False)),
    ("the ReLU is applied to the residual branch before the addition instead of after it: "
     "relu(bn2(conv2(.))) + shortcut(x)", dict(final_relu=False, relu_residual=True)),
    ("there is an extra ReLU on the residual branch before the addition: after bn2 comes the "
     "addition, then the only ReLU", dict(relu_residual=True)),
    ("the stride is on conv2 instead of conv1: conv1 has the block's stride, conv2 stride 1",
     dict(stride_on_conv2=True)),
    ("bn2 is applied after the addition: bn2 normalizes conv2's output, then the shortcut is "
     "added", dict(bn2_after_add=True)),
)

_NET_MISTAKES = (
    ("the ReLU after the stem's bn1 is missing: relu(bn1(conv1(x))) comes before layer1",
     dict(stem_relu=False)),
    ("it uses max pooling at the end: the head is an adaptive *average* pool to 1x1",
     dict(pool=F.adaptive_max_pool2d)),
    ("there is a 3x3 stride-2 max-pool after the stem, as in the ImageNet ResNet: the CIFAR "
     "ResNet has none, layer1 works at 32x32", dict(stem_pool=True)),
) + tuple(
    (f"in every block, {text}", knobs) for text, knobs in _BLOCK_MISTAKES
)


def _diagnose(guesses, out: torch.Tensor, rtol: float, atol: float) -> str:
    """If ``out`` is what a well-known mistake computes, say which one. ``guesses`` yields
    ``(text, function computing that mistake's output)``."""
    with torch.no_grad():
        for text, compute in guesses:
            try:
                guess = compute()
            except RuntimeError:  # the mistake does not fit these shapes
                continue
            if guess.shape == out.shape and torch.allclose(out, guess, rtol=rtol, atol=atol):
                return f" Your output is exactly what the module computes when {text}."
    return ""


def _block_guesses(w: dict, x: torch.Tensor, stride: int, training: bool):
    for text, knobs in _BLOCK_MISTAKES:
        yield text, lambda knobs=knobs: _block(w, x, stride, training=training, **knobs)


def _net_guesses(w: dict, x: torch.Tensor, training: bool):
    for text, knobs in _NET_MISTAKES:
        yield text, lambda knobs=knobs: _resnet18(w, x, training=training, **knobs)


#: Hints for the errors a wrong forward pass raises most often (matched on PyTorch's message).
_ERROR_HINTS = (
    (
        "must match the size of tensor",
        "the residual branch and the shortcut have different shapes, so they cannot be added. "
        + _SHORTCUT_RULE[0].upper() + _SHORTCUT_RULE[1:]
        + ", so that both give (N, out_channels, H / stride, W / stride)",
    ),
    (
        "channels",
        "a convolution got the wrong number of input channels: conv1 and the shortcut's 1x1 "
        "convolution take in_channels, conv2 takes out_channels; in a stage, every block after "
        "the first takes the previous block's out_channels (update in_channels in _make_layer; and "
        "build a new block for each position: [block(...)] * num_blocks repeats ONE block, the first, "
        "with its stride and shortcut)",
    ),
    (
        "mat1 and mat2 shapes cannot be multiplied",
        "the features reaching fc do not match its 512 inputs: pool layer4's (N, 512, 4, 4) output "
        "to (N, 512, 1, 1) with nn.AdaptiveAvgPool2d((1, 1)) and flatten with torch.flatten(x, 1)",
    ),
    (
        "Expected more than 1 value per channel",
        "batch norm in train mode needs more than one value per channel: a feature map became "
        "1x1 too early. The stem has stride 1 and no max-pool; only the first blocks of layer2, "
        "layer3 and layer4 halve the size",
    ),
    (
        "size is too small",
        "a feature map became too small: the stem has stride 1 and no max-pool, and only the first "
        "blocks of layer2, layer3 and layer4 halve the size (32 -> 16 -> 8 -> 4)",
    ),
)


def _call(module, x: torch.Tensor, what: str) -> torch.Tensor:
    """``module(x)`` as a detached tensor; an error in the student's forward pass becomes a
    failure that says which call it was and what the error usually means."""
    return call_forward(module, x, what, _ERROR_HINTS, "print x.shape after each step and compare "
                        "with the shapes in the handout")


def _student_shapes(student, module) -> dict[str, tuple[int, ...]]:
    """``{state_dict key: shape}`` of a student module, read in the worker (no tensors sent)."""
    return {key: tuple(shape) for key, shape in student.tools.state_shapes(module).items()}


def _layout_problems(shapes: dict[str, tuple], ref_shapes: dict[str, tuple]) -> list[str]:
    problems = []
    missing = [k for k in ref_shapes if k not in shapes]
    unexpected = [k for k in shapes if k not in ref_shapes]
    if missing:
        problems.append(f"missing {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected {_listing(unexpected)}")
    for key, expected in ref_shapes.items():
        if key in shapes and shapes[key] != expected:
            problems.append(f"{key} has shape {shapes[key]}, expected {expected}")
    return problems


def _listing(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return f"[{shown}{f', ... ({len(keys)} in all)' if len(keys) > limit else ''}]"


def _layout_hints(shapes: dict[str, tuple], ref_shapes: dict[str, tuple] | None = None) -> list[str]:
    """Hints for the layout mistakes that are easy to recognise (the shortcut hints only with the
    reference's layout to compare with)."""
    hints = []
    conv_biases = [
        k for k in shapes
        if k.endswith(".bias") and len(shapes.get(k[: -len("bias")] + "weight", ())) == 4
    ]
    if conv_biases:
        hints.append(
            f"{_listing(conv_biases, 4)} means convolutions with a bias: every convolution here is "
            "followed by batch norm, whose shift replaces the bias, so create them with bias=False"
        )
    if ref_shapes is None:
        return hints
    if any(k.endswith("shortcut.0.weight") and len(v) == 1 and len(ref_shapes.get(k, ())) == 4
           for k, v in shapes.items()):
        hints.append("shortcut[0] is a batch norm: in the projection the 1x1 convolution comes first, "
                     "then its batch norm, " + _SHORTCUT_RULE.split("otherwise ")[1])
        return hints
    if any(".shortcut." in f".{k}" for k in ref_shapes if k not in shapes):
        hints.append(
            "a projection shortcut is missing or incomplete (" + _SHORTCUT_RULE + "; its state_dict "
            "keys are shortcut.0.weight and shortcut.1.weight, shortcut.1.bias, "
            "shortcut.1.running_mean, ...)"
        )
    if any(".shortcut." in f".{k}" for k in shapes if k not in ref_shapes):
        hints.append("there is a projection shortcut where the identity belongs: " + _SHORTCUT_RULE)
    return hints


def _assert_same_layout(shapes: dict, ref_shapes: dict, what: str) -> None:
    problems = _layout_problems(shapes, ref_shapes)
    if not problems:
        return
    hints = _layout_hints(shapes, ref_shapes)
    raise AssertionError(
        f"{what}: the weights cannot be copied between your module and the reference by "
        "state_dict, because the keys or shapes differ (the attribute names conv1, bn1, conv2, "
        "bn2, shortcut and, for the network, conv1, bn1, layer1..layer4, fc are part of the "
        "contract). Found: " + "; ".join(problems) + (". Hint: " + "; ".join(hints) if hints else "")
    )


def _assert_close(out, expected, what: str, rule: str, guesses, rtol=_RTOL, atol=_ATOL) -> None:
    assert tuple(out.shape) == tuple(expected.shape), (
        f"{what}: your output has shape {tuple(out.shape)}, expected {tuple(expected.shape)}. {rule}."
    )

    def message(default: str) -> str:
        diff = (out - expected).abs().max().item()
        return (
            f"{what}: your output differs from the reference's (largest difference {diff:.3g}). "
            f"The forward pass must be: {rule}." + _diagnose(guesses, out, rtol, atol)
        )

    torch.testing.assert_close(out, expected, rtol=rtol, atol=atol, check_dtype=False, msg=message)


def _load(module, w: dict[str, torch.Tensor]) -> None:
    """``module.load_state_dict(w)`` in the worker, called after the keys and shapes were checked
    (with a message that teaches), so a mismatch cannot surface here as a bare PyTorch error."""
    module.load_state_dict(w)


def _reference_block(reference, config: dict, seed: int, zero_bn2: bool = False):
    ref = reference.ex4_resnet.BasicBlock(**config)
    w = _random_weights(ref.state_dict(), seed)
    if zero_bn2:
        w["bn2.weight"].zero_()
        w["bn2.bias"].zero_()
    ref.load_state_dict(w)
    return ref, w


def _student_block_with(student, config: dict, w: dict):
    block = student.ex4_resnet.BasicBlock(**config)
    ref_shapes = {k: tuple(v.shape) for k, v in w.items()}
    _assert_same_layout(_student_shapes(student, block), ref_shapes, _block_call(config))
    _load(block, w)
    return block


# --- BasicBlock: shapes and layout ---------------------------------------------------------------


@pytest.mark.points(1)
@settings(max_examples=12, **_EXAMPLES)
@example(config={"in_channels": 4, "out_channels": 8, "stride": 2}, size=(2, 7, 5))
@example(config={"in_channels": 6, "out_channels": 6, "stride": 1}, size=(1, 4, 4))
@example(config={"in_channels": 8, "out_channels": 4, "stride": 1}, size=(2, 5, 6))
@example(config={"in_channels": 5, "out_channels": 5, "stride": 2}, size=(3, 9, 9))
@given(config=resnet_block_configs(), size=resnet_block_input_sizes)
def test_block_output_shape(student, config, size):
    block = student.ex4_resnet.BasicBlock(**config)
    block.eval()
    n, h, w = size
    c_in, c_out, stride = config["in_channels"], config["out_channels"], config["stride"]
    what = f"{_block_call(config)} in eval mode on an input of shape {(n, c_in, h, w)}"
    out = _call(block, _tensor((n, c_in, h, w), seed=100 * h + w), what)
    expected = (n, c_out, (h - 1) // stride + 1, (w - 1) // stride + 1)
    got = tuple(out.shape)
    if got == expected:
        return
    if got[:2] != expected[:2]:
        hint = "the output has out_channels channels: conv1 maps in_channels to out_channels, conv2 keeps them"
    elif stride == 1:
        hint = "with stride 1 the block keeps the spatial size: 3x3 convolutions with padding=1"
    else:
        hint = (
            f"with stride {stride} a 3x3 convolution with padding 1 gives (H - 1) // {stride} + 1 "
            "rows: conv1 has the block's stride, conv2 stride 1, and the shortcut's 1x1 convolution "
            "(no padding) has the block's stride too"
        )
    raise AssertionError(f"{what} returned shape {got}, expected {expected}: {hint}")


@pytest.mark.points(1)
def test_block_identity_shortcut_has_no_parameters(student, reference):
    try:
        expansion = student.ex4_resnet.BasicBlock.expansion
    except StudentAttributeError:  # only a missing attribute: an import error is reported as one
        expansion = None
    assert expansion == 1, (
        f"BasicBlock.expansion is {expansion!r}, expected 1: the class attribute `expansion = 1` says "
        "that a basic block's output has out_channels channels (a bottleneck block's has 4 times as "
        "many); ResNet code reads it to size the next stage and fc"
    )
    for config in ({"in_channels": 16, "out_channels": 16}, {"in_channels": 5, "out_channels": 5, "stride": 1}):
        call = _block_call(config) if "stride" in config else "BasicBlock(16, 16) (stride defaults to 1)"
        block = student.ex4_resnet.BasicBlock(**config)
        shapes = _student_shapes(student, block)
        extra = [k for k in shapes if k.startswith("shortcut.")]
        assert not extra, (
            f"{call} has shortcut weights {_listing(extra)}, but stride 1 and equal channel counts "
            "need no projection: the shortcut is the identity (nn.Identity(), an empty "
            "nn.Sequential(), or just adding x). The 1x1 convolution is only for a block that "
            "changes the shape (stride != 1 or in_channels != out_channels)"
        )
        expected = reference.ex4_resnet.BasicBlock(**config)
        expected = sum(p.numel() for p in expected.parameters())
        got = student.tools.param_count(block)
        assert got == expected, (
            f"{call} has {got:,} parameters, expected {expected:,}: conv1 and conv2 "
            f"({config['in_channels']}*{config['out_channels']}*3*3 each, no bias), and bn1 and bn2 "
            "(a weight and a bias per channel each), and nothing else. "
            + " ".join(_layout_hints(shapes))
        )


_PROJECTION_CONFIGS = (
    {"in_channels": 8, "out_channels": 16, "stride": 1},
    {"in_channels": 8, "out_channels": 8, "stride": 2},
    {"in_channels": 8, "out_channels": 16, "stride": 2},
    {"in_channels": 12, "out_channels": 6, "stride": 1},
)


@pytest.mark.points(2)
def test_block_projection_shortcut_when_shape_changes(student, reference):
    for config in _PROJECTION_CONFIGS:
        call = _block_call(config)
        why = []
        if config["stride"] != 1:
            why.append(f"stride {config['stride']} != 1")
        if config["in_channels"] != config["out_channels"]:
            why.append(f"{config['in_channels']} != {config['out_channels']} channels")
        block = student.ex4_resnet.BasicBlock(**config)
        shapes = _student_shapes(student, block)
        ref = reference.ex4_resnet.BasicBlock(**config)
        ref_shortcut = {k: tuple(v.shape) for k, v in ref.state_dict().items() if k.startswith("shortcut.")}
        got_shortcut = {k: v for k, v in shapes.items() if k.startswith("shortcut.")}
        if not got_shortcut:
            raise AssertionError(
                f"{call} has no shortcut weights, but the block changes the shape of its input "
                f"({' and '.join(why)}), so x cannot be added as it is: {_SHORTCUT_RULE}"
            )
        problems = _layout_problems(got_shortcut, ref_shortcut)
        if problems:
            hints = []
            if "shortcut.0.bias" in got_shortcut and len(got_shortcut.get("shortcut.0.weight", ())) == 4:
                hints.append("the 1x1 convolution has a bias: use bias=False, batch norm follows")
            elif len(got_shortcut.get("shortcut.0.weight", ())) == 1:
                hints.append("shortcut[0] is a batch norm: the 1x1 convolution comes first, then its batch norm")
            if not any(k.startswith("shortcut.1.") for k in got_shortcut):
                hints.append("the batch norm after the 1x1 convolution is missing")
            raise AssertionError(
                f"{call}: the projection shortcut is not {_SHORTCUT_RULE.split('otherwise ')[1]} "
                f"(state_dict keys shortcut.0.* and shortcut.1.*). Found: " + "; ".join(problems)
                + (". Hint: " + "; ".join(hints) if hints else "")
            )
        block.eval()
        n, h, w = 2, 8, 8
        x = _tensor((n, config["in_channels"], h, w), seed=7)
        what = f"{call} in eval mode on an input of shape {(n, config['in_channels'], h, w)}"
        out = _call(block, x, what)
        s = config["stride"]
        expected = (n, config["out_channels"], h // s, w // s)
        assert tuple(out.shape) == expected, (
            f"{what} returned shape {tuple(out.shape)}, expected {expected}: the residual branch and "
            f"the shortcut both give (N, out_channels, H / stride, W / stride), so the 1x1 "
            "convolution of the shortcut has the block's stride"
        )


@pytest.mark.points(1)
def test_block_convolutions_have_no_bias(student):
    for config in ({"in_channels": 4, "out_channels": 8, "stride": 2}, {"in_channels": 8, "out_channels": 8, "stride": 1}):
        shapes = _student_shapes(student, student.ex4_resnet.BasicBlock(**config))
        # a convolution's bias sits next to a 4-d weight (a batch norm's next to a 1-d one)
        biases = [k for k in shapes if k.endswith(".bias") and len(shapes.get(k[: -len("bias")] + "weight", ())) == 4]
        assert not biases, (
            f"{_block_call(config)} has convolution biases {_listing(biases)}. Every convolution "
            "in a ResNet is followed by batch norm, which subtracts the mean (cancelling any bias) "
            "and adds its own shift, so the convolutions are created with bias=False"
        )
        for key in ("conv1.weight", "conv2.weight"):
            assert key in shapes, (
                f"{_block_call(config)} has no {key}: the block's 3x3 convolutions are attributes "
                "named conv1 and conv2"
            )


# --- BasicBlock: the forward pass ----------------------------------------------------------------


@pytest.mark.points(2)
@settings(max_examples=8, **_EXAMPLES)
@example(config={"in_channels": 6, "out_channels": 6, "stride": 1}, size=(2, 6, 6), seed=0)
@example(config={"in_channels": 4, "out_channels": 8, "stride": 2}, size=(2, 8, 8), seed=1)
@given(config=resnet_block_configs(), size=resnet_block_input_sizes, seed=resnet_seeds)
def test_block_matches_reference_eval(student, reference, config, size, seed):
    ref, w = _reference_block(reference, config, seed)
    block = _student_block_with(student, config, w)
    block.eval()
    n, h, wd = size
    x = _tensor((n, config["in_channels"], h, wd), seed + 1)
    what = (
        f"{_block_call(config)} in eval mode with the reference's random weights and batch-norm "
        f"statistics, on an input of shape {tuple(x.shape)}"
    )
    out = _call(block, x, what)
    with torch.no_grad():
        expected = ref.eval()(x)
    _assert_close(out, expected, what, _BLOCK_RULE, _block_guesses(w, x, config["stride"], False))


@pytest.mark.points(1)
def test_block_matches_reference_train(student, reference):
    for config, seed in (
        ({"in_channels": 6, "out_channels": 6, "stride": 1}, 61),
        ({"in_channels": 4, "out_channels": 8, "stride": 2}, 62),
    ):
        ref, w = _reference_block(reference, config, seed)
        block = _student_block_with(student, config, w)
        block.train()
        x = _tensor((4, config["in_channels"], 8, 8), seed + 1)
        what = (
            f"{_block_call(config)} in train mode (batch norm uses the batch's statistics) with the "
            f"reference's random weights, on an input of shape {tuple(x.shape)}"
        )
        out = _call(block, x, what)
        with torch.no_grad():
            expected = ref.train()(x)
        _assert_close(out, expected, what, _BLOCK_RULE, _block_guesses(w, x, config["stride"], True))


_ZERO_BN2_CONFIGS = (
    ({"in_channels": 8, "out_channels": 8, "stride": 1}, 71),
    ({"in_channels": 4, "out_channels": 8, "stride": 2}, 72),
)


def _shortcut(w: dict, x: torch.Tensor, stride: int) -> torch.Tensor:
    """shortcut(x) in eval mode, computed from the weights alone."""
    if "shortcut.0.weight" in w:
        return _bn(F.conv2d(x, w["shortcut.0.weight"], stride=stride), w, "shortcut.1.", False)
    return x


def _relu_shortcut(w: dict, x: torch.Tensor, stride: int) -> torch.Tensor:
    """relu(shortcut(x)) in eval mode, computed from the weights alone."""
    return F.relu(_shortcut(w, x, stride))


def _zero_bn2_setting(config: dict) -> str:
    shortcut = "x" if not _needs_projection(config) else "the projection of x"
    return (
        f"{_block_call(config)} in eval mode with bn2.weight = 0 and bn2.bias = 0 (its default), "
        f"so the residual branch bn2(conv2(.)) is exactly zero and the block must return "
        f"relu(shortcut(x)) = relu({shortcut})"
    )


@pytest.mark.points(1)
def test_block_zero_bn2_reduces_to_relu_shortcut(student, reference):
    for config, seed in _ZERO_BN2_CONFIGS:
        _, w = _reference_block(reference, config, seed, zero_bn2=True)
        block = _student_block_with(student, config, w)
        block.eval()
        x = _tensor((2, config["in_channels"], 6, 6), seed + 1)
        setting = _zero_bn2_setting(config)
        out = _call(block, x, setting)
        expected = _relu_shortcut(w, x, config["stride"])
        shortcut = _shortcut(w, x, config["stride"])
        hint = ""
        if out.shape == expected.shape and torch.allclose(out, shortcut, rtol=_RTOL, atol=_ATOL):
            hint = (
                " Your block returns shortcut(x) itself, negative values included: the ReLU comes "
                "after the addition, relu(bn2(conv2(.)) + shortcut(x)), not (only) before it."
            )
        elif out.shape == expected.shape and bool((out.abs() <= _ATOL).all()):
            hint = (
                " Your block returns zeros: the shortcut must be added to the residual branch "
                "(out = out + shortcut(x)) before the final ReLU."
            )

        def message(default: str, setting=setting, hint=hint) -> str:
            diff = (out - expected).abs().max().item()
            return (
                f"{setting}, but your output differs from that (largest difference {diff:.3g}). "
                f"The block is: {_BLOCK_RULE}; {_SHORTCUT_RULE}." + hint
            )

        assert tuple(out.shape) == tuple(expected.shape), (
            f"{setting}, of shape {tuple(expected.shape)}, but your output has shape "
            f"{tuple(out.shape)}. {_SHORTCUT_RULE[0].upper() + _SHORTCUT_RULE[1:]}."
        )
        torch.testing.assert_close(out, expected, rtol=_RTOL, atol=_ATOL, check_dtype=False, msg=message)


@pytest.mark.points(1)
def test_block_gradient_reaches_input_through_shortcut(student, reference):
    for config, seed in _ZERO_BN2_CONFIGS:
        _, w = _reference_block(reference, config, seed, zero_bn2=True)
        block = _student_block_with(student, config, w)
        block.eval()
        x = _tensor((2, config["in_channels"], 6, 6), seed + 2)
        what = (
            f"{_zero_bn2_setting(config)}. The gradient of block(x).sum() with respect to x"
        )
        try:
            grad = student.tools.input_grad(block, x)
        except (NotImplementedError, StudentNotImplemented):
            raise
        except StudentError as exc:
            raise AssertionError(
                f"{what} could not be computed: your block raised {exc.type_name}: {exc.message}"
            ) from None
        xr = x.clone().requires_grad_(True)
        _relu_shortcut(w, xr, config["stride"]).sum().backward()
        expected = xr.grad
        assert grad is not None, (
            f"{what} is None: no gradient reaches the input. The shortcut is what lets the gradient "
            "flow straight back through a residual block; do not detach x (x.detach(), .data, "
            "torch.no_grad()) anywhere in forward"
        )
        assert bool(grad.abs().sum() > 0), (
            f"{what} is zero everywhere, but with the residual branch switched off the gradient "
            "still flows through the shortcut (that is the point of a residual block): add "
            "shortcut(x) itself, not a detached copy, before the final ReLU"
        )

        def message(default: str) -> str:
            return (
                f"{what} differs from the gradient of relu(shortcut(x)).sum() (largest difference "
                f"{(grad - expected).abs().max().item():.3g}): the gradient flows back through the "
                "final ReLU and the shortcut. Check that the ReLU comes after the addition and that "
                "x is not detached on the way into the shortcut"
            )

        torch.testing.assert_close(grad, expected, rtol=_RTOL, atol=_ATOL, check_dtype=False, msg=message)


# --- resnet18 ------------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_resnet18_parameter_count(student):
    net = student.tools.build_on_meta(student.ex4_resnet.resnet18)  # counts only
    total = student.tools.param_count(net)
    if total == _NET_TOTAL:
        return
    shapes = _student_shapes(student, net)
    per_part: dict[str, int] = {}
    for key, shape in shapes.items():
        if not key.endswith(_BUFFERS):
            part = key.split(".", 1)[0]
            per_part[part] = per_part.get(part, 0) + math.prod(shape)
    diffs = [
        f"{part} has {per_part.get(part, 0):,}, expected {expected:,}"
        for part, expected in _NET_PARTS.items() if per_part.get(part, 0) != expected
    ]
    extra = [f"{part} ({n:,})" for part, n in per_part.items() if part not in _NET_PARTS]
    if extra:
        diffs.append("parameters outside conv1, bn1, layer1..layer4, fc: " + ", ".join(extra))
    hints = _layout_hints(shapes)
    if "fc" in per_part and per_part["fc"] != _NET_PARTS["fc"] and shapes.get("fc.weight", (0, 0))[1:] != (512,):
        hints.append(
            "fc takes 512 inputs: layer4's (N, 512, 4, 4) output is averaged to (N, 512, 1, 1) "
            "by the adaptive average pool before flattening"
        )
    if shapes.get("conv1.weight", (0, 0, 3, 3))[2:] != (3, 3):
        hints.append("the stem is one 3x3 convolution (the 7x7 stem is ImageNet's)")
    empty = [part for part in ("layer1", "layer2", "layer3", "layer4") if not per_part.get(part)]
    if empty:
        hints.append(f"{', '.join(empty)} hold{'s' if len(empty) == 1 else ''} no parameters: blocks kept in a "
                     "plain Python list (or tuple, dict) are not registered as submodules, so their weights "
                     "are invisible to parameters(), state_dict() and .to(device). Wrap them: "
                     "nn.Sequential(*blocks)")
    raise AssertionError(
        f"resnet18() has {total:,} parameters, expected {_NET_TOTAL:,} (two BasicBlocks in each of "
        "layer1..layer4 with 64, 128, 256, 512 channels, no convolution biases, fc = Linear(512, 10)). "
        + "; ".join(diffs or ["compare each part with the table in the handout"])
        + (". Hint: " + "; ".join(hints) if hints else "")
    )


@pytest.mark.points(1)
def test_resnet18_handles_batch_of_one(student):
    net = student.ex4_resnet.resnet18()
    net.eval()
    what = "resnet18() in eval mode on a batch of ONE image, of shape (1, 3, 32, 32)"
    out = _call(net, _tensor((1, 3, 32, 32), seed=85), what)
    assert tuple(out.shape) == (1, 10), (
        f"{what} returned shape {tuple(out.shape)}, expected (1, 10): the batch dimension must "
        "survive the flatten. x.squeeze() (or torch.flatten(x) without start_dim) also removes a "
        "batch dimension of size 1; flatten everything but the batch with torch.flatten(x, 1) or "
        "x.view(x.size(0), -1)"
    )


@pytest.mark.points(1)
def test_resnet18_num_classes_respected(student):
    # by position: the signature is resnet18(num_classes=10), num_classes first (not after a
    # `pretrained` flag, as in old torchvision)
    # any positive number of classes, 1 included (a single logit, for BCEWithLogitsLoss)
    for num_classes in (7, 1):
        try:
            net = student.ex4_resnet.resnet18(num_classes)
        except StudentError as exc:
            if num_classes != 1 or isinstance(exc, StudentImportError):
                raise
            raise AssertionError(f"resnet18(1) raised {exc.type_name}: {exc.message}. Any positive num_classes "
                                 "works, 1 included: fc = Linear(512, 1) gives one logit per image") from None
        net.eval()
        what = (f"resnet18({num_classes}) (num_classes={num_classes}, the first argument) in eval mode on a "
                "batch of shape (2, 3, 32, 32)")
        out = _call(net, _tensor((2, 3, 32, 32), seed=81), what)
        assert tuple(out.shape) == (2, num_classes), (
            f"{what} returned shape {tuple(out.shape)}, expected (2, {num_classes}): one score per class, "
            "from fc = Linear(512, num_classes), for any positive num_classes (1 included). Pass num_classes "
            "on to fc instead of a fixed 10"
        )


@pytest.mark.points(1)
def test_resnet18_feature_map_sizes(student):
    net = student.ex4_resnet.resnet18()
    net.eval()
    x = _tensor((2, 3, 32, 32), seed=91)
    what = "resnet18() in eval mode on a batch of shape (2, 3, 32, 32)"
    names = [name for name, *_ in _STAGES] + [f"{name}.1" for name, *_ in _STAGES]
    try:
        seen = student.tools.feature_shapes(net, x, names)
    except (NotImplementedError, StudentNotImplemented):
        raise
    except StudentError as exc:
        _call(net, x, what)  # raises with the hint for this error
        raise AssertionError(f"{what}: your forward pass raised {exc.type_name}: {exc.message}") from None
    problems, hints = [], []
    for name, channels, stride, size in _STAGES:
        shape = seen.get(name) or seen.get(f"{name}.1")
        expected = [2, channels, size, size]
        if shape is None:
            problems.append(f"{name} was not run as a submodule (no module named {name} returned a tensor)")
        elif list(shape) != expected:
            problems.append(f"{name} gave {tuple(shape)}, expected {tuple(expected)}")
            if name == "layer1" and len(shape) == 4 and shape[2] < 32:
                hints.append(
                    "layer1 already gets a smaller map: the CIFAR stem is one 3x3 convolution with "
                    "stride 1 and padding 1, then bn1 and ReLU, with no max-pool (the 7x7 stride-2 "
                    "convolution and the max-pool are the ImageNet stem, which would leave 8x8)"
                )
            elif len(shape) == 4 and shape[1] != channels:
                hints.append(f"{name} has {channels} channels")
    if not problems:
        out = _call(net, x, what)
        assert tuple(out.shape) == (2, 10), (
            f"{what} returned shape {tuple(out.shape)}, expected (2, 10): num_classes defaults to 10"
        )
        return
    stage_rule = (
        "The feature maps are 32x32 after layer1, 16x16 after layer2, 8x8 after layer3 and 4x4 "
        "after layer4: the stem keeps 32x32, layer1 has stride 1, and the first block of layer2, "
        "layer3 and layer4 has stride 2 (the second block of a stage has stride 1)"
    )
    raise AssertionError(
        f"{what}: " + "; ".join(problems) + f". {stage_rule}."
        + (" Hint: " + "; ".join(dict.fromkeys(hints)) if hints else "")
    )


@pytest.mark.points(1)
def test_resnet18_state_dict_matches_reference(student, reference):
    ref_shapes = {k: tuple(v.shape) for k, v in reference.ex4_resnet.resnet18().state_dict().items()}
    shapes = _student_shapes(student, student.tools.build_on_meta(student.ex4_resnet.resnet18))
    problems = _layout_problems(shapes, ref_shapes)
    if not problems:
        return
    hints = _layout_hints(shapes, ref_shapes)
    if any(k.startswith(f"{name}.2.") for k in shapes for name, *_ in _STAGES):
        hints.append("each of layer1..layer4 has exactly two blocks (ResNet-18 = 1 + 2*2*4 + 1 layers)")
    if any(f"{name}.1." in k for k in ref_shapes if k not in shapes for name, *_ in _STAGES):
        hints.append("each of layer1..layer4 is an nn.Sequential of two BasicBlocks, keys layerK.0.* and layerK.1.*")
    if shapes.get("fc.weight", (0, 512))[1:] != (512,):
        hints.append("fc = Linear(512, num_classes): average-pool layer4's output to 1x1 before flattening")
    if shapes.get("conv1.weight", (0, 0, 3, 3))[2:] != (3, 3):
        hints.append("the stem conv1 is 3x3 (the 7x7 stem is ImageNet's)")
    raise AssertionError(
        "resnet18().state_dict() must have the reference's keys and shapes (conv1, bn1, "
        "layer1.0.conv1 ... layer4.1.bn2, the shortcuts of layer2.0, layer3.0 and layer4.0, fc): "
        "the grader copies weights by these names. Found: " + "; ".join(problems)
        + (". Hint: " + "; ".join(dict.fromkeys(hints)) if hints else "")
    )


@once_per_batch
def _reference_resnet18(reference, num_classes: int, seed: int, x_seed: int, train: bool):
    """Seeded random weights for the reference resnet18, its logits on ``_tensor((2, 3, 32, 32),
    x_seed)`` in train or eval mode, and its batch norms' running statistics after that forward
    pass (read-only: computed once per batch)."""
    ref = reference.ex4_resnet.resnet18(num_classes=num_classes)
    w = _random_weights(ref.state_dict(), seed)
    ref.load_state_dict(w)
    with torch.no_grad():
        logits = ref.train(train)(_tensor((2, 3, 32, 32), seed=x_seed))
    stats = {k: v for k, v in ref.state_dict().items() if k.endswith((".running_mean", ".running_var"))}
    return w, logits, stats


def _student_resnet18_with(student, w: dict[str, torch.Tensor], num_classes: int):
    """The student's ``resnet18(num_classes)`` holding the weights ``w`` (its layout checked first)."""
    net = student.ex4_resnet.resnet18(num_classes=num_classes)
    _assert_same_layout(
        _student_shapes(student, net), {k: tuple(v.shape) for k, v in w.items()}, f"resnet18(num_classes={num_classes})"
    )
    _load(net, w)
    return net


@pytest.mark.points(2)
def test_resnet18_matches_reference_eval(student, reference):
    w, expected, _ = _reference_resnet18(reference, 10, 101, 102, train=False)
    net = _student_resnet18_with(student, w, 10)
    net.eval()
    x = _tensor((2, 3, 32, 32), seed=102)
    what = (
        "resnet18(num_classes=10) in eval mode with the reference's random weights and batch-norm "
        "statistics, on a batch of shape (2, 3, 32, 32)"
    )
    out = _call(net, x, what)
    _assert_close(
        out, expected, what, _NET_RULE + "; every block is " + _BLOCK_RULE,
        _net_guesses(w, x, False), rtol=_NET_RTOL, atol=_NET_ATOL,
    )


@pytest.mark.points(1)
def test_resnet18_matches_reference_train(student, reference):
    w, expected, _ = _reference_resnet18(reference, 5, 111, 112, train=True)
    net = _student_resnet18_with(student, w, 5)
    net.train()
    x = _tensor((2, 3, 32, 32), seed=112)
    what = (
        "resnet18(num_classes=5) in train mode (batch norm uses the batch's statistics) with the "
        "reference's random weights, on a batch of shape (2, 3, 32, 32)"
    )
    out = _call(net, x, what)
    # No list of known mistakes here (each guess is a whole ResNet-18 forward pass): the eval-mode
    # test names them, and a network right in eval mode but wrong here does something else in
    # train mode (dropout, or batch norm kept in eval mode).
    _assert_close(
        out, expected, what,
        _NET_RULE + "; every block is " + _BLOCK_RULE + ". In train mode every batch norm "
        "normalizes with the batch's own mean and variance (nn.BatchNorm2d does that by itself "
        "after net.train()), and there is no dropout",
        (), rtol=_NET_RTOL, atol=_NET_ATOL,
    )


@pytest.mark.points(1)
def test_resnet18_gradients_reach_every_layer(student):
    net = student.ex4_resnet.resnet18(num_classes=10)
    x = _tensor((2, 3, 32, 32), seed=131)
    y = torch.tensor([3, 7])
    what = ("one training step of resnet18(num_classes=10) in train mode (cross-entropy loss on a "
            "batch of shape (2, 3, 32, 32), loss.backward(), SGD with lr=0)")
    optimizer = student.torch.optim.SGD(call_keep(net.parameters), lr=0.0)
    try:
        student.tools.train_step(net, optimizer, x, y)
    except StudentError as exc:
        hint = ""
        if "inplace operation" in exc.message:
            hint = (
                " A tensor that autograd still needs was changed in place: in the block, add the two "
                "branches out of place, out = out + self.shortcut(x) (or out += shortcut(x), where out "
                "is the residual branch's own fresh tensor), never shortcut(x) += out or x += out: "
                "with the identity shortcut, shortcut(x) IS x, the previous ReLU's output"
            )
        raise AssertionError(
            f"{what}: loss.backward() raised {exc.type_name}: {exc.message}. The network must be "
            "trainable: the forward pass may not detach activations or modify in place a tensor "
            "that the backward pass needs." + hint
        ) from None
    grads = student.tools.grad_summary(net)
    without = [name for name, g in grads.items() if g is None]
    assert not without, (
        f"{what}: these parameters got no gradient: {_listing(without)}. Every layer must be "
        "trained by loss.backward(): forward must not detach the activations (x.detach(), x.data, "
        "torch.no_grad()) and must use every layer it creates"
    )


@pytest.mark.points(1)
def test_resnet18_batch_norm_running_statistics(student, reference):
    w, _, expected = _reference_resnet18(reference, 5, 121, 122, train=True)
    net = _student_resnet18_with(student, w, 5)
    net.train()
    x = _tensor((2, 3, 32, 32), seed=122)
    what = (
        "resnet18(num_classes=5) in train mode with the reference's random weights and batch-norm "
        "statistics, after one forward pass on a batch of shape (2, 3, 32, 32)"
    )
    _call(net, x, what)
    got = {key: net.get_buffer(key).float() for key in expected}
    wrong = [key for key, value in expected.items() if not torch.allclose(got[key], value, rtol=1e-4, atol=1e-6)]
    if not wrong:
        return
    momentum = _apparent_momentum(w[wrong[0]], expected[wrong[0]], got[wrong[0]])
    runs = next((k for k in (2, 3, 4) if momentum is not None and abs(momentum - (1 - 0.9 ** k)) < 1e-3), None)
    why = (
        f"they moved as with momentum={momentum:.3g}, which is what momentum=0.1 gives when the batch "
        f"norm runs {runs} times in one forward pass (1 - 0.9**{runs}): does forward call a module more "
        "than once, e.g. self.shortcut(x) both in a check and in the sum? Call each layer once per "
        "forward pass"
    ) if runs else (
        f"they moved as with momentum={momentum:.3g}. Every batch norm is nn.BatchNorm2d(channels) with "
        "PyTorch's defaults, momentum=0.1 and eps=1e-5: one training batch moves running_mean to "
        "0.9 * running_mean + 0.1 * the batch's mean. momentum=0.9 or 0.99 is Keras' decay, the "
        "opposite convention (PyTorch's momentum = 1 - Keras' momentum)"
    ) if momentum is not None else (
        f"the first of them in the network, {wrong[0]}, already sees other inputs than the "
        "reference's. Check the layers before it: their order (conv -> bn -> relu in the stem and "
        "in each block, the shortcut's conv -> bn) and their settings (the stem's 3x3 convolution "
        "with stride 1 and padding 1, batch norms with PyTorch's defaults momentum=0.1, eps=1e-5)"
    )
    raise AssertionError(
        f"{what}: {len(wrong)} running statistics differ from the reference's ({', '.join(wrong[:4])}"
        f"{', ...' if len(wrong) > 4 else ''}): {why}"
    )


def _apparent_momentum(before: torch.Tensor, expected: torch.Tensor, got: torch.Tensor) -> float | None:
    """The momentum m with got = (1 - m) * before + m * s, where expected is that with m = 0.1 (s:
    the batch's statistic), when one m explains every value; else None."""
    batch = (expected.double() - 0.9 * before.double()) / 0.1
    step = batch - before.double()
    usable = step.abs() > 1e-3
    if int(usable.sum()) < 2:
        return None
    m = ((got.double() - before.double()) / step)[usable]
    centre = float(m.median())
    return centre if bool(((m - centre).abs() < 1e-3).all()) and abs(centre - 0.1) > 1e-3 else None
