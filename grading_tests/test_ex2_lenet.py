"""Hidden tests for exercise 2: a LeNet-style ``Net`` (20 points).

The student's network lives in the worker process; ``net`` below is a proxy to it. The strongest
checks copy one set of weights into both the student's network and the reference by
``state_dict`` and compare the outputs on the same random images, in both directions: that proves
the architecture and the forward pass right whatever coding style the student chose (modules or
functional calls, one pool or two, ``view`` or ``flatten``). Every assertion message is the
feedback a student sees, so each one says what was expected and what to look at.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, example, given, settings
from strategies import lenet_batch_sizes, lenet_num_classes, lenet_seeds

from autograder.testing import StudentError, call_forward, call_keep, type_name

pytestmark = pytest.mark.exercise("ex2")

#: Each hypothesis example builds and runs a network in the worker: keep the counts small, never
#: time examples (a call crosses a process boundary), and allow the ``student`` fixture.
_EXAMPLES = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Tolerances for comparing the student's outputs with the reference's. The same weights and
#: inputs give the same numbers up to float32 rounding (the worker may use another thread count).
_RTOL, _ATOL = 1e-4, 1e-5

_ARCHITECTURE = (
    "pool(relu(conv1(x))) -> pool(relu(conv2(.))) -> flatten -> relu(fc1(.)) -> relu(fc2(.)) "
    "-> fc3(.), with 2x2 max pooling and the output of fc3 returned as it is"
)

#: What each layer is, said the way the handout says it.
_LAYER_SPECS = {
    "conv1": "conv1 is Conv2d(3, 6, kernel_size=3, padding=1): 3 input channels (RGB) -> 6",
    "conv2": "conv2 is Conv2d(6, 16, kernel_size=3, padding=1): its input is conv1's 6 channels",
    "fc1": (
        "fc1 is Linear(16*8*8, 120): a 3x3 convolution with padding 1 keeps 32x32 at 32x32 and "
        "each 2x2 max pool halves it (32 -> 16 -> 8), so fc1 takes 16 channels * 8 * 8 = 1024 inputs"
    ),
    "fc2": "fc2 is Linear(120, 84)",
    "fc3": "fc3 is Linear(84, num_classes): use the num_classes argument, not a fixed 10",
}

#: Parameters per layer for num_classes=10 (weights + biases).
_LAYER_PARAMS = {"conv1": 168, "conv2": 880, "fc1": 123_000, "fc2": 10_164, "fc3": 850}
#: Bias values per layer (its output channels or features): a layer short by exactly this many lost its bias.
_LAYER_BIASES = {"conv1": 6, "conv2": 16, "fc1": 120, "fc2": 84, "fc3": 10}
_TOTAL_PARAMS = 135_062


# --- helpers -------------------------------------------------------------------------------------


def _kind(obj: object) -> str:
    try:
        return type_name(obj)
    except ImportError:  # the engine's proxy module is not there: a real object
        return type(obj).__name__


def _reference_net(reference, num_classes: int):
    return reference.ex2_lenet.Net(num_classes=num_classes).eval()


def _reference_logits(ref, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return ref(x)


def _random_weights(layout: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Fresh weights with the reference's keys and shapes, drawn from ``seed``: He-uniform
    weights (activations keep their scale through the ReLUs, so logits are of order 1 and a
    missing ReLU shows) and clearly non-zero biases (so a layer without bias shows)."""
    g = torch.Generator().manual_seed(seed)
    weights = {}
    for key, tensor in layout.items():
        layer = key.rsplit(".", 1)[0]
        fan_in = math.prod(layout[f"{layer}.weight"].shape[1:])
        bound = math.sqrt(6.0 / fan_in) if key.endswith(".weight") else 0.2
        weights[key] = (torch.rand(tensor.shape, generator=g) * 2 - 1) * bound
    return weights


def _images(batch_size: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch_size, 3, 32, 32, generator=g)


def _linear_hint(message: str) -> str:
    """Which linear layer got what: PyTorch says "(N x features and in_features x out_features)"."""
    shapes = re.search(r"\((\d+)x(\d+) and (\d+)x(\d+)\)", message)
    got, wanted = (int(shapes[2]), int(shapes[3])) if shapes else (None, 16 * 8 * 8)
    if wanted == 16 * 8 * 8:
        return ("the features reaching fc1 do not match its in_features" + (f" ({got} instead of 1024)" if got else "")
                + ". After the two pools the tensor is (N, 16, 8, 8), and flattening it must give (N, 1024) for "
                "fc1 = Linear(16*8*8, 120). Flatten every dimension except the batch (torch.flatten(x, 1)) and "
                "print x.shape before fc1")
    return (f"a tensor of {got} features reaches a linear layer with in_features={wanted} (the line in the "
            "traceback below): each linear layer takes the previous one's out_features, fc1 = Linear(1024, 120), "
            "fc2 = Linear(120, 84), fc3 = Linear(84, num_classes)")


#: Hints for the errors a wrong forward pass raises most often (matched on PyTorch's message).
_ERROR_HINTS = (
    ("mat1 and mat2 shapes cannot be multiplied", _linear_hint),
    (
        "is invalid for input of size",
        "a view/reshape does not fit the tensor: do not hard-code the batch size, flatten with "
        "x.view(x.size(0), -1) or torch.flatten(x, 1)",
    ),
    (
        "channels",
        "a convolution got the wrong number of input channels: conv1 takes the 3-channel image, "
        "conv2 takes conv1's 6 output channels",
    ),
    (
        "size is too small",
        "a feature map became too small: 3x3 convolutions with padding 1 keep the size and only "
        "the two 2x2 pools halve it (32 -> 16 -> 8)",
    ),
)


def _call_forward(net, x: torch.Tensor, what: str) -> torch.Tensor:
    """``net(x)``; an error in the student's forward pass becomes a failure with a hint."""
    return call_forward(net, x, what, _ERROR_HINTS, "print x.shape after each step and compare with "
                        "the shapes in the handout")


def _images_phrase(batch_size: int) -> str:
    return "one image" if batch_size == 1 else f"{batch_size} images"


def _logits(net, x: torch.Tensor, what: str) -> torch.Tensor:
    out = _call_forward(net, x, what)
    assert isinstance(out, torch.Tensor), (
        f"{what}: forward must return one tensor of logits of shape (N, num_classes), "
        f"but it returned a {_kind(out)}"
    )
    return out.detach()


def _assert_logits_shape(out: torch.Tensor, batch_size: int, num_classes: int, what: str) -> None:
    got = tuple(out.shape)
    expected = (batch_size, num_classes)
    if got == expected:
        return
    if len(got) == 1 and batch_size == 1:
        hint = (
            "the batch dimension is gone: with a single image, x.squeeze() or torch.flatten(x) "
            "without start_dim=1 removes it too. Flatten everything except the batch: "
            "torch.flatten(x, 1) or x.view(x.size(0), -1)"
        )
    elif len(got) != 2:
        hint = "the logits must be 2-D, one row per image: flatten with torch.flatten(x, 1) before fc1"
    elif got[0] != batch_size:
        hint = (
            "the number of rows must equal the batch size: flatten must keep the batch dimension "
            "(torch.flatten(x, 1) or x.view(x.size(0), -1)) and must not hard-code a batch size"
        )
    else:
        hint = f"there must be one score per class: {_LAYER_SPECS['fc3']}"
    raise AssertionError(
        f"{what} returned logits of shape {got}, expected {expected} (batch size {batch_size}, "
        f"num_classes={num_classes}): {hint}"
    )


def _layout_problems(student_sd: dict, ref_sd: dict[str, torch.Tensor]) -> list[str]:
    """What keeps the reference's weights from loading into the student's net, in words."""
    problems = []
    missing = [k for k in ref_sd if k not in student_sd]
    unexpected = [k for k in student_sd if k not in ref_sd]
    if missing:
        text = f"missing keys {missing}"
        if any(k.endswith(".bias") for k in missing):
            text += " (a missing '.bias' means bias=False: every layer keeps its bias, the default)"
        problems.append(text)
    if unexpected:
        text = f"unexpected keys {unexpected}"
        if any(k.count(".") > 1 for k in unexpected):
            text += (
                " (layers with weights must be attributes of Net itself named conv1, conv2, fc1, "
                "fc2, fc3: not inside an nn.Sequential, a list or another module)"
            )
        else:
            text += " (the network has exactly five layers with weights: no extra layers, no batch norm)"
        problems.append(text)
    return problems + _shape_problems(student_sd, ref_sd)


def _shape_problems(student_sd: dict, ref_sd: dict[str, torch.Tensor]) -> list[str]:
    """One sentence per layer whose weight or bias has the wrong shape."""
    by_layer: dict[str, list[str]] = {}
    for key, tensor in ref_sd.items():
        if key not in student_sd:
            continue
        got, expected = tuple(student_sd[key].shape), tuple(tensor.shape)
        if got == expected:
            continue
        text = f"{key} has shape {got}, expected {expected}"
        if key.endswith(".weight"):
            text += (
                " (out_channels, in_channels, kernel height, kernel width)"
                if len(expected) == 4
                else " (out_features, in_features)"
            )
            if key == "fc1.weight" and len(got) == 2 and got[1] == 16 * 5 * 5:
                text += (
                    "; 16*5*5 = 400 inputs is the classic LeNet with 5x5 convolutions without "
                    "padding, not this network"
                )
            elif key == "fc1.weight" and len(got) == 2 and got[1] == 16 * 16 * 16:
                text += (
                    "; 16*16*16 = 4096 inputs means one max pool is missing: there is one after "
                    "each convolution"
                )
            elif len(got) == 4 and got[2:] != expected[2:]:
                text += f"; the kernels are 3x3, not {got[2]}x{got[3]}"
        by_layer.setdefault(key.rsplit(".", 1)[0], []).append(text)
    return [
        "; ".join(texts) + f": {_LAYER_SPECS.get(layer, 'see the layer table in the handout')}"
        for layer, texts in by_layer.items()
    ]


def _assert_same_layout(student_sd: dict, ref_sd: dict[str, torch.Tensor], what: str) -> None:
    problems = _layout_problems(student_sd, ref_sd)
    assert not problems, (
        f"{what}: the weights cannot be copied between your Net and the reference by state_dict, "
        "because the keys or shapes differ. Expected exactly the keys conv1.weight, conv1.bias, "
        "conv2.weight, conv2.bias, fc1.weight, fc1.bias, fc2.weight, fc2.bias, fc3.weight, "
        "fc3.bias. Found: " + "; ".join(problems)
    )


def _lenet(
    w: dict[str, torch.Tensor],
    x: torch.Tensor,
    *,
    act=(F.relu, F.relu, F.relu, F.relu),
    pool=F.max_pool2d,
    channels_last: bool = False,
    head=None,
) -> torch.Tensor:
    """The reference's forward pass written out, with knobs to recompute common mistakes."""
    x = pool(act[0](F.conv2d(x, w["conv1.weight"], w["conv1.bias"], padding=1)), 2, 2)
    x = pool(act[1](F.conv2d(x, w["conv2.weight"], w["conv2.bias"], padding=1)), 2, 2)
    x = torch.flatten(x.permute(0, 2, 3, 1) if channels_last else x, 1)
    x = act[2](F.linear(x, w["fc1.weight"], w["fc1.bias"]))
    x = act[3](F.linear(x, w["fc2.weight"], w["fc2.bias"]))
    x = F.linear(x, w["fc3.weight"], w["fc3.bias"])
    return head(x) if head is not None else x


def _same(x: torch.Tensor) -> torch.Tensor:
    return x


def _diagnose(w: dict[str, torch.Tensor], x: torch.Tensor, out: torch.Tensor) -> str:
    """If the student's output is what a well-known mistake computes, say which one."""
    r = F.relu
    mistakes = [
        ("the ReLU after conv1 is missing", dict(act=(_same, r, r, r))),
        ("the ReLU after conv2 is missing", dict(act=(r, _same, r, r))),
        ("the ReLU after fc1 is missing", dict(act=(r, r, _same, r))),
        ("the ReLU after fc2 is missing", dict(act=(r, r, r, _same))),
        ("there is a ReLU after fc3: the output of fc3 is returned as it is", dict(head=F.relu)),
        (
            "it returns softmax probabilities: return the logits, nn.CrossEntropyLoss applies "
            "(log-)softmax itself",
            dict(head=lambda z: F.softmax(z, dim=1)),
        ),
        (
            "it returns log_softmax: return the logits, nn.CrossEntropyLoss applies log-softmax itself",
            dict(head=lambda z: F.log_softmax(z, dim=1)),
        ),
        ("it uses average pooling: both pools are 2x2 max pools", dict(pool=F.avg_pool2d)),
        ("it uses tanh activations: use ReLU", dict(act=(torch.tanh,) * 4)),
        ("it uses sigmoid activations: use ReLU", dict(act=(torch.sigmoid,) * 4)),
        (
            "it flattens in (height, width, channels) order: flatten the (N, 16, 8, 8) tensor as "
            "it is, with torch.flatten(x, 1) or x.view(x.size(0), -1)",
            dict(channels_last=True),
        ),
    ]
    with torch.no_grad():
        for text, knobs in mistakes:
            guess = _lenet(w, x, **knobs)
            if guess.shape == out.shape and torch.allclose(out, guess, rtol=_RTOL, atol=_ATOL):
                return f" Your output is exactly what the network computes when {text}."
    return ""


def _assert_matches(out, expected, w, x, what: str) -> None:
    def message(default: str) -> str:
        diff = (out - expected).abs().max().item()
        return (
            f"{what}: your output differs from the reference's (largest difference {diff:.3g}). "
            f"The forward pass must be {_ARCHITECTURE}." + _diagnose(w, x, out)
        )

    torch.testing.assert_close(out, expected, rtol=_RTOL, atol=_ATOL, check_dtype=False, msg=message)


# --- construction and shapes ----------------------------------------------------------------------


@pytest.mark.points(1)
def test_net_default_num_classes(student):
    net = student.ex2_lenet.Net()
    what = "Net() (no arguments: num_classes defaults to 10) on a batch of 2 images"
    out = _logits(net, _images(2, seed=21), what)
    _assert_logits_shape(out, 2, 10, what)


@pytest.mark.points(2)
@settings(max_examples=12, **_EXAMPLES)
@example(batch_size=1)
@example(batch_size=4)
@given(batch_size=lenet_batch_sizes)
def test_net_output_shape_for_batch_sizes(student, batch_size):
    net = student.ex2_lenet.Net(num_classes=10)
    what = f"Net(num_classes=10) on a batch of {_images_phrase(batch_size)} of shape (3, 32, 32)"
    out = _logits(net, _images(batch_size, seed=batch_size), what)
    _assert_logits_shape(out, batch_size, 10, what)


@pytest.mark.points(2)
@settings(max_examples=12, **_EXAMPLES)
@example(num_classes=7, batch_size=3)
@example(num_classes=1, batch_size=2)
@given(num_classes=lenet_num_classes, batch_size=lenet_batch_sizes)
def test_net_num_classes_respected(student, num_classes, batch_size):
    net = student.ex2_lenet.Net(num_classes)  # by position: Net(num_classes=10) is the only parameter
    what = f"Net({num_classes}) on a batch of {_images_phrase(batch_size)}"
    out = _logits(net, _images(batch_size, seed=num_classes), what)
    _assert_logits_shape(out, batch_size, num_classes, what)


@pytest.mark.points(1)
def test_net_handles_batch_of_one(student, reference):
    ref = _reference_net(reference, 10)
    w = _random_weights(ref.state_dict(), seed=11)
    ref.load_state_dict(w)
    net = student.ex2_lenet.Net(num_classes=10)
    _assert_same_layout(net.state_dict(), w, "Net(num_classes=10)")
    net.load_state_dict(w)
    net.eval()
    x = _images(1, seed=12)
    what = "Net(num_classes=10) on a batch of one image, shape (1, 3, 32, 32)"
    out = _logits(net, x, what)
    _assert_logits_shape(out, 1, 10, what)
    _assert_matches(out, _reference_logits(ref, x), w, x, what + ", with the reference's weights")


# --- parameters and state_dict layout ------------------------------------------------------------


@pytest.mark.points(1)
def test_net_parameter_count(student):
    net = student.ex2_lenet.Net(num_classes=10)
    named = list(net.named_parameters())
    total = sum(p.numel() for _, p in named)
    if total == _TOTAL_PARAMS:
        return
    per_layer: dict[str, int] = {}
    for name, p in named:
        layer = name.rsplit(".", 1)[0] if "." in name else name
        per_layer[layer] = per_layer.get(layer, 0) + p.numel()
    diffs = []
    for layer, expected in _LAYER_PARAMS.items():
        got = per_layer.get(layer, 0)
        if got == expected - _LAYER_BIASES[layer]:
            diffs.append(f"{layer} has {got:,}, expected {expected:,}: it has no bias (keep bias=True, the default)")
        elif got != expected:
            diffs.append(f"{layer} has {got:,}, expected {expected:,} ({_LAYER_SPECS[layer]})")
    extra = [f"{layer} ({n:,})" for layer, n in per_layer.items() if layer not in _LAYER_PARAMS]
    if extra:
        diffs.append("parameters outside the five layers: " + ", ".join(extra))
    raise AssertionError(
        f"Net(num_classes=10) has {total:,} parameters, expected {_TOTAL_PARAMS:,}. "
        + "; ".join(diffs or ["count the weights and biases of each layer"])
    )


@pytest.mark.points(2)
def test_net_state_dict_keys_match_reference(student, reference):
    ref_keys = list(_reference_net(reference, 10).state_dict())
    keys = list(student.ex2_lenet.Net(num_classes=10).state_dict())
    missing = [k for k in ref_keys if k not in keys]
    unexpected = [k for k in keys if k not in ref_keys]
    found, hints = [], []
    if missing:
        found.append(f"missing {missing}")
        if any(k.endswith(".bias") for k in missing):
            hints.append("a missing '.bias' means a layer was created with bias=False: keep the default bias")
    if unexpected:
        found.append(f"unexpected {unexpected}")
        if any(k.count(".") > 1 for k in unexpected):
            hints.append(
                "layers with weights must be attributes of Net itself, not inside an nn.Sequential, "
                "a list or another module"
            )
        else:
            hints.append("the network has exactly five layers with weights: no extra layers, no batch norm")
    assert not found, (
        "Net(num_classes=10).state_dict() must have exactly the keys conv1.weight, conv1.bias, "
        "conv2.weight, conv2.bias, fc1.weight, fc1.bias, fc2.weight, fc2.bias, fc3.weight, "
        "fc3.bias: the grader copies weights by these names, so the layer attributes must be "
        "called conv1, conv2, fc1, fc2, fc3. Yours has " + "; ".join(found) + ". " + "; ".join(hints)
    )


@pytest.mark.points(2)
def test_net_layer_shapes(student, reference):
    ref_sd = _reference_net(reference, 10).state_dict()
    sd = student.ex2_lenet.Net(num_classes=10).state_dict()
    problems = [f"{key} is missing" for key in ref_sd if key not in sd] + _shape_problems(sd, ref_sd)
    assert not problems, (
        "Net(num_classes=10) has layers that are missing or of the wrong shape: " + "; ".join(problems)
    )


# --- the forward pass --------------------------------------------------------------------------


@pytest.mark.points(2)
def test_net_returns_logits_not_probabilities(student, reference):
    ref = _reference_net(reference, 10)
    w = _random_weights(ref.state_dict(), seed=31)
    ref.load_state_dict(w)
    x = _images(16, seed=32)
    expected = _reference_logits(ref, x)
    net = student.ex2_lenet.Net(num_classes=10)
    _assert_same_layout(net.state_dict(), w, "Net(num_classes=10)")
    net.load_state_dict(w)
    net.eval()
    what = "Net(num_classes=10) on a batch of 16 images, with the reference's weights"
    out = _logits(net, x, what)
    _assert_logits_shape(out, 16, 10, what)
    rows_sum_to_one = torch.allclose(out.sum(dim=1), torch.ones(16), atol=1e-4)
    assert not (out.min() >= 0 and out.max() <= 1 and rows_sum_to_one), (
        f"{what}: every row of your output is a probability distribution (entries in [0, 1] "
        "summing to 1), so forward applies softmax. Return the raw scores of fc3 (logits): "
        "nn.CrossEntropyLoss applies log-softmax itself, and softmax twice trains badly"
    )
    assert not (out.max() <= 0 and torch.allclose(out.exp().sum(dim=1), torch.ones(16), atol=1e-4)), (
        f"{what}: your output is log-probabilities (log_softmax). Return the raw scores of fc3 "
        "(logits): nn.CrossEntropyLoss applies log-softmax itself"
    )
    assert expected.min() < 0, "grader error: the reference gives no negative logits for these weights"
    assert out.min() < 0, (
        f"{what}: all your outputs are >= 0, but logits can be negative (the reference's are, "
        "for these weights). Do not apply ReLU, sigmoid or softmax after fc3: return its output as it is"
    )
    # the same logits when an evaluation loop calls the model under torch.no_grad()
    quiet = student.tools.call_no_grad(net, x)
    again = _logits(net, x, what)  # a random forward (F.dropout is on in every mode) is not a no_grad branch
    torch.testing.assert_close(again, out, rtol=1e-5, atol=1e-6, msg=lambda _: (
        f"{what}: two calls on the same input in eval mode return different values, so forward is random. "
        "The network has no dropout; F.dropout(x, p) drops in every mode (its training argument defaults "
        "to True), unlike nn.Dropout, which eval() switches off"))
    torch.testing.assert_close(quiet, out, rtol=1e-5, atol=1e-6, msg=lambda _: (
        f"{what}, called under torch.no_grad() (as evaluate() calls it), returns other values than without "
        "it: forward must return the same logits either way, never softmax or another output when "
        "gradients are off"))


@pytest.mark.points(3)
@settings(max_examples=15, **_EXAMPLES)
@example(batch_size=1, num_classes=10, seed=0)
@example(batch_size=8, num_classes=7, seed=1)
@given(batch_size=lenet_batch_sizes, num_classes=lenet_num_classes, seed=lenet_seeds)
def test_net_matches_reference_with_reference_weights(student, reference, batch_size, num_classes, seed):
    ref = _reference_net(reference, num_classes)
    w = _random_weights(ref.state_dict(), seed)
    ref.load_state_dict(w)
    net = student.ex2_lenet.Net(num_classes=num_classes)
    _assert_same_layout(net.state_dict(), w, f"Net(num_classes={num_classes})")
    net.load_state_dict(w)
    net.eval()
    x = _images(batch_size, seed + 1)
    what = (
        f"Net(num_classes={num_classes}) in eval mode with the reference's weights, "
        f"on a batch of {_images_phrase(batch_size)}"
    )
    out = _logits(net, x, what)
    _assert_logits_shape(out, batch_size, num_classes, what)
    _assert_matches(out, _reference_logits(ref, x), w, x, what)


@pytest.mark.points(2)
def test_reference_matches_net_with_student_weights(student, reference):
    net = student.ex2_lenet.Net(num_classes=7)
    ref = _reference_net(reference, 7)
    sd = net.state_dict()
    _assert_same_layout(sd, ref.state_dict(), "Net(num_classes=7)")
    w = {k: v.detach().clone() for k, v in sd.items()}
    ref.load_state_dict(w)
    net.eval()
    for batch_size, seed in ((1, 41), (5, 42)):
        x = _images(batch_size, seed)
        what = (
            f"Net(num_classes=7) in eval mode with its own initial weights, copied into the "
            f"reference, on a batch of {_images_phrase(batch_size)}"
        )
        out = _logits(net, x, what)
        _assert_logits_shape(out, batch_size, 7, what)
        _assert_matches(out, _reference_logits(ref, x), w, x, what)


@pytest.mark.points(1)
def test_net_train_mode_matches_reference(student, reference):
    ref = _reference_net(reference, 10)
    w = _random_weights(ref.state_dict(), seed=51)
    ref.load_state_dict(w)
    net = student.ex2_lenet.Net(num_classes=10)
    _assert_same_layout(net.state_dict(), w, "Net(num_classes=10)")
    net.load_state_dict(w)
    net.train()
    x = _images(8, seed=52)
    what = "Net(num_classes=10) in train mode with the reference's weights, on a batch of 8 images"
    first = _logits(net, x, what)
    second = _logits(net, x, what)
    _assert_logits_shape(first, 8, 10, what)
    assert torch.allclose(first, second, rtol=_RTOL, atol=_ATOL), (
        f"{what}: two calls on the same images gave different outputs, so your forward pass is "
        "random in train mode. This network has no dropout: remove nn.Dropout / F.dropout"
    )
    expected = _reference_logits(ref, x)

    def message(default: str) -> str:
        return (
            f"{what}: your output differs from the reference's. The network has no dropout and no "
            "batch norm, so it computes the same function in train and eval mode: "
            f"{_ARCHITECTURE}." + _diagnose(w, x, first)
        )

    torch.testing.assert_close(first, expected, rtol=_RTOL, atol=_ATOL, check_dtype=False, msg=message)


@pytest.mark.points(1)
def test_net_gradients_reach_every_layer(student, reference):
    net = student.ex2_lenet.Net(num_classes=10)
    x = _images(4, seed=61)
    y = torch.tensor([0, 3, 7, 9])
    what = ("one training step of Net(num_classes=10) (cross-entropy loss on a batch of 4 images, "
            "loss.backward(), SGD with lr=0)")
    optimizer = student.torch.optim.SGD(call_keep(net.parameters), lr=0.0)
    try:
        student.tools.train_step(net, optimizer, x, y)
    except StudentError as exc:
        if "does not require grad" not in exc.message:
            raise
        raise AssertionError(
            f"{what}: loss.backward() raised ({exc.message}): the output of forward is not connected "
            "to the weights, so nothing can learn. Do not run forward under torch.no_grad() and do not "
            "detach the activations (x.detach(), x.data, .numpy()): the network must be trainable"
        ) from None
    grads = student.tools.grad_summary(net)
    without = [name for name, g in grads.items() if g is None]
    assert not without, (
        f"{what}: these parameters got no gradient: {without}. Every layer must be trained by "
        "loss.backward(): forward must not detach the activations (x.detach(), x.data, "
        "torch.no_grad(), a round trip through numpy) anywhere between conv1 and fc3"
    )
    # each Net trains its own layers: weights loaded into one must not show up in another
    w = _random_weights(_reference_net(reference, 10).state_dict(), seed=63)
    net.load_state_dict(w)
    other = student.ex2_lenet.Net(num_classes=10).state_dict()
    shared = [k for k in w if k in other and torch.equal(other[k], w[k])]
    assert not shared, (
        f"loading weights into one Net(num_classes=10) changed another Net too (in {', '.join(shared)}): "
        "the networks share their layers, so training one trains all. Create every layer in __init__ "
        "(self.conv1 = nn.Conv2d(...)), so that each Net has its own; layers made once at module level "
        "or as class attributes are shared by every instance")
