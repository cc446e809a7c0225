"""Hidden tests for exercise 1 (ex1_shapes.py): output sizes, parameter counts, receptive fields.

Ground truth is PyTorch itself: every expected output size comes from running ``nn.Conv2d`` /
``nn.MaxPool2d`` on a real tensor, every parameter count from ``nn.Conv2d`` / ``nn.Linear``'s own
parameters, and receptive fields from the standard recurrence and a gradient probe through a
stack of real convolutions. The lecture's worked examples are checked as written.

Value tests compare with ``==`` (a correct 55.0 is accepted there); only
``test_functions_return_int`` checks the type. 20 points.
"""

from __future__ import annotations

import re
import warnings

import pytest
import torch
from hypothesis import assume, example, given, settings

from autograder.testing import call_keep, called_as, once_per_batch, student_raises, type_name
from strategies import (
    bad_non_positive_call,
    bad_padding_call,
    conv_args,
    conv_param_args,
    conv_param_args_bad_groups,
    linear_param_args,
    pool_args,
    pool_args_last_window,
    receptive_field_layers,
    too_small_call,
)

pytestmark = pytest.mark.exercise("ex1")

CONV_FORMULA = "floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1"


# --- ground truth (trusted side) ------------------------------------------------------------


@once_per_batch
def torch_conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output size of a real nn.Conv2d on a size x size input; raises where PyTorch does."""
    layer = torch.nn.Conv2d(1, 1, kernel_size, stride=stride, padding=padding, dilation=dilation, bias=False)
    with torch.no_grad():
        return int(layer(torch.zeros(1, 1, size, size)).shape[-1])


@once_per_batch
def torch_pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Output size of a real nn.MaxPool2d on a size x size input; raises where PyTorch does."""
    layer = torch.nn.MaxPool2d(kernel_size, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    with torch.no_grad():
        return int(layer(torch.zeros(1, 1, size, size)).shape[-1])


TORCH_OUTPUT_SIZE = {"conv2d_output_size": torch_conv2d_output_size, "pool2d_output_size": torch_pool2d_output_size}


def pytorch_rejects(name, args):
    """True when PyTorch refuses these arguments (a negative size cannot even make a tensor)."""
    if args["size"] < 0:
        return True
    try:
        with warnings.catch_warnings():  # a zero-sized kernel warns before it fails
            warnings.simplefilter("ignore")
            TORCH_OUTPUT_SIZE[name](**args)
    except (RuntimeError, ValueError):
        return True
    return False


def count_params(layer):
    return sum(p.numel() for p in layer.parameters())


def recurrence_receptive_field(layers):
    r, jump = 1, 1
    for k, s in layers:
        r += (k - 1) * jump
        jump *= s
    return r


def probe_receptive_field(layers):
    """Receptive field measured on real layers: the extent of the input gradient of one output
    unit through a stack of Conv2d with all-one weights (no cancellation possible)."""
    size, jump = 1, 1
    for k, s in layers:  # an input at least this wide gives every layer an output
        size += k * jump
        jump *= s
    x = torch.ones(1, 1, size, size, requires_grad=True)
    y = x
    for k, s in layers:
        conv = torch.nn.Conv2d(1, 1, k, stride=s, bias=False)
        with torch.no_grad():
            conv.weight.fill_(1.0)
        y = conv(y)
    y[0, 0, 0, 0].backward()
    return int((x.grad[0, 0] != 0).any(dim=0).sum())


# --- feedback helpers -----------------------------------------------------------------------


#: The leading parameters of each function in the handout's order, passed by position when given
#: (so a signature in another order fails, as it would in the student's own code); the rest by keyword.
POSITIONAL = {
    "conv2d_output_size": ("size", "kernel_size", "stride"),
    "pool2d_output_size": ("size", "kernel_size", "stride"),
    "conv2d_num_params": ("in_channels", "out_channels", "kernel_size", "bias"),
    "linear_num_params": ("in_features", "out_features", "bias"),
}
KEYWORD_ORDER = ("stride", "padding", "dilation", "ceil_mode", "bias", "groups")


def split_args(name, args):
    """``(positional values, keyword dict)``: the leading documented parameters present, by position."""
    leading = []
    for key in POSITIONAL[name]:
        if key not in args:
            break
        leading.append(key)
    return [args[k] for k in leading], {k: args[k] for k in KEYWORD_ORDER if k in args and k not in leading}


def call_student(student, name, args):
    """Call the student's ``name`` the way :func:`call_text` writes it."""
    positional, keywords = split_args(name, args)
    with called_as(call_text(name, args)):  # an error of the student's names the call that raised it
        return getattr(student.ex1_shapes, name)(*positional, **keywords)


def call_text(name, args):
    """``conv2d_output_size(7, 3, 2, padding=1)``: the call as a student would write it."""
    positional, keywords = split_args(name, args)
    return f"{name}({', '.join([repr(v) for v in positional] + [f'{k}={v!r}' for k, v in keywords.items()])})"


def returned(got):
    if got is None:
        return "returned None (is a `return` missing?)"
    return f"returned {got!r}"


def output_size_hint(args, got, pool):
    """Name the usual mistake that produces ``got``, or restate the rule."""
    size, k = args["size"], args["kernel_size"]
    s = args.get("stride") or (k if pool else 1)
    p, d, ceil = args.get("padding", 0), args.get("dilation", 1), args.get("ceil_mode", False)

    def model(size=size, k=k, s=s, p=p, d=d, ceil=ceil, two_p=True, last_window=True, limit=None,
              ceil_by_adding_one=False, minus_one=True):
        span = size + (2 * p if two_p else p) - d * (k - 1) - (1 if minus_one else 0)
        if ceil and ceil_by_adding_one:
            out = span // s + 2
        elif ceil:
            out = -(-span // s) + 1
        else:
            out = span // s + 1
        if ceil and last_window and (out - 1) * s >= (size + p if limit is None else limit):
            out -= 1
        return out

    if isinstance(got, float) and not got.is_integer():
        return ("a size counts window positions, so it is a whole number: round the division with // "
                "(or math.floor / math.ceil); in Python 3, a / b is always a float")
    expected = model()
    mistakes = []
    if ceil:
        mistakes += [
            (model(ceil=False), "ceil_mode=True rounds the division UP (math.ceil), it does not floor it"),
            (model(last_window=False), "in ceil_mode the last window must start inside the input or the left "
                                       "padding: if (out - 1)*stride >= size + padding, that window is dropped"),
            (model(limit=size), "window starts count from the left edge of the PADDED input, so the last window "
                                "is dropped only when (out - 1)*stride >= size + padding (not just size)"),
            (model(ceil_by_adding_one=True), "rounding up is not floor + 1 when the stride divides exactly: "
                                             "use math.ceil(a / b) or -(-a // b)"),
        ]
    if pool and args.get("stride") is None:
        mistakes.append((model(s=1), "when stride is not given (stride=None) it defaults to kernel_size, not 1"))
    if pool and not ceil:
        mistakes.append((model(ceil=True), "ceil_mode=False floors the division; only ceil_mode=True rounds up"))
    mistakes += [
        (expected - 1, "did you forget the + 1? The window at position 0 counts too"),
        (model(minus_one=False), "the - 1 is missing: out = (size + 2*padding - dilation*(kernel_size - 1) - 1) "
                                 "// stride + 1, the - 1 inside the division"),
        (expected + 1, "one too many: the + 1 is added once, after the division"),
        (model(d=1), "dilation stretches the kernel to dilation*(kernel_size - 1) + 1 pixels; "
                     "it looks like dilation was ignored"),
        (model(two_p=False), "padding is added on BOTH sides: size + 2*padding"),
        (model(s=1), "divide by the stride; it looks like stride was ignored"),
    ]
    if not pool:
        mistakes.append((model(ceil=True, last_window=False),
                         "round DOWN (floor): a window that does not fit entirely in the padded input is not counted"))
    matching = [hint for value, hint in mistakes if value != expected and got == value]
    if matching:  # the shrunk example often fits several mistakes: name them (three at most)
        return "; or: ".join(matching[:3])
    if pool and ceil:
        return ("the rule: out = ceil((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1, "
                "then out -= 1 if (out - 1)*stride >= size + padding (that last window would start in the "
                "right padding)")
    return f"the rule: out = {CONV_FORMULA}"


def check_output_size(student, name, args, expected):
    got = call_student(student, name, args)
    pool = name == "pool2d_output_size"
    assert got == expected, (
        f"{call_text(name, args)} {returned(got)}, but PyTorch's nn.{'MaxPool2d' if pool else 'Conv2d'} "
        f"gives an output of size {expected}: {output_size_hint(args, got, pool)}."
    )


def conv_params_hint(args, got):
    cin, cout, k = args["in_channels"], args["out_channels"], args["kernel_size"]
    g, bias = args.get("groups", 1), args.get("bias", True)
    weights = cout * (cin // g) * k * k
    b = cout if bias else 0
    for value, hint in [
        (weights, "the bias adds one parameter per output channel (out_channels of them)"),
        (weights + cout, "with bias=False there are no bias parameters"),
        (cout * cin * k * k + b, "with groups, each filter only sees in_channels // groups input channels"),
        ((cout // g) * (cin // g) * k * k + b, "groups divides the input channels each filter sees, "
                                               "not the number of filters: there are still out_channels filters"),
        (cout * (cin // g) * k + b, "a kernel has kernel_size x kernel_size weights per input channel"),
        (cout * (cin // g) * k * k + cin, "there is one bias per OUTPUT channel"),
    ]:
        if got == value:
            return hint
    return ("weights: out_channels x (in_channels // groups) x kernel_size x kernel_size, "
            "plus out_channels biases when bias=True")


def receptive_field_hint(layers, got):
    no_stride = 1 + sum(k - 1 for k, _ in layers)
    r, jump = 1, 1
    for k, s in layers:  # stride applied one layer too early
        jump *= s
        r += (k - 1) * jump
    if got == no_stride:
        return "a stride s makes every later layer step s times further in the input: keep a running jump"
    if got == r:
        return ("a layer's own stride only affects the layers AFTER it: "
                "add (kernel_size - 1) * jump, then jump *= stride")
    return "start from r = 1, jump = 1; for each (kernel_size, stride): r += (kernel_size - 1) * jump; jump *= stride"


# --- conv2d_output_size ---------------------------------------------------------------------


@pytest.mark.points(1)
def test_conv2d_output_size_lecture_examples(student):
    cases = [
        ({"size": 7, "kernel_size": 3}, 5, "a 3x3 filter slides over a 7x7 input in 5 positions"),
        ({"size": 7, "kernel_size": 3, "stride": 2}, 3, "with stride 2 a 3x3 filter fits 3 times in 7"),
        ({"size": 227, "kernel_size": 11, "stride": 4}, 55, "AlexNet conv1: 227 -> 55"),
        ({"size": 32, "kernel_size": 5}, 28, "LeNet conv1: 32 -> 28"),
        ({"size": 32, "kernel_size": 3, "padding": 1}, 32, "a 3x3 'same' convolution keeps 32"),
        ({"size": 224, "kernel_size": 7, "stride": 2, "padding": 3}, 112, "ResNet stem: 224 -> 112"),
        ({"size": 5, "kernel_size": 3, "stride": 2, "padding": 1}, 3, "Dumoulin & Visin, figure 2.6"),
    ]
    for args, expected, what in cases:
        got = call_student(student, "conv2d_output_size", args)
        assert got == expected, (
            f"{call_text('conv2d_output_size', args)} {returned(got)}, expected {expected} ({what}): "
            f"{output_size_hint(args, got, pool=False)}."
        )
    _assert_positional(student, "conv2d_output_size", ((224, 7, 2, 3), 112), ((7, 3, 1, 0, 2), 3))


def _assert_positional(student, name: str, *cases) -> None:
    """The handout's signature, argument order included: positional calls work too."""
    order = {"conv2d_output_size": "size, kernel_size, stride=1, padding=0, dilation=1",
             "pool2d_output_size": "size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False"}[name]
    names = [part.split("=")[0] for part in order.split(", ")]
    for args, expected in cases:  # size and kernel_size by position (they may be positional-only)
        options = dict(zip(names[2:], args[2:]))
        with called_as(f"{name}({args[0]!r}, {args[1]!r}, {', '.join(f'{k}={v!r}' for k, v in options.items())})"):
            by_name = getattr(student.ex1_shapes, name)(args[0], args[1], **options)
        if by_name != expected:  # wrong whatever the order: other tests say why, not this one
            continue
        with called_as(f"{name}{args}, all arguments by position in the handout's order {name}({order})"):
            got = getattr(student.ex1_shapes, name)(*args)
        assert got == expected, (
            f"{name}{args} (all arguments by position) {returned(got)}, expected {expected}: keep the "
            f"handout's order of the arguments, {name}({order}), so that callers can pass them by position"
        )


@pytest.mark.points(1)
@settings(max_examples=50)
@given(args=conv_args(stride=False, padding=False))
def test_conv2d_output_size_default_args(student, args):
    # only size and kernel_size given: stride=1, padding=0, dilation=1 by default
    got = student.ex1_shapes.conv2d_output_size(args["size"], args["kernel_size"])
    expected = torch_conv2d_output_size(args["size"], args["kernel_size"])
    assert got == expected, (
        f"{call_text('conv2d_output_size', args)} {returned(got)}, but PyTorch's nn.Conv2d gives {expected}: "
        f"the defaults are stride=1, padding=0, dilation=1, so the output is size - kernel_size + 1; "
        f"{output_size_hint(args, got, pool=False)}."
    )


@pytest.mark.points(1)
@settings(max_examples=100)
@given(args=conv_args())
@example(args={"size": 7, "kernel_size": 3, "stride": 2, "padding": 0})
@example(args={"size": 8, "kernel_size": 3, "stride": 2, "padding": 0})
@example(args={"size": 6, "kernel_size": 3, "stride": 2, "padding": 1})
def test_conv2d_output_size_matches_pytorch(student, args):
    check_output_size(student, "conv2d_output_size", args, torch_conv2d_output_size(**args))


@pytest.mark.points(1)
@settings(max_examples=60)
@given(args=conv_args(dilation=True))
@example(args={"size": 7, "kernel_size": 3, "stride": 1, "padding": 0, "dilation": 2})
def test_conv2d_output_size_dilation_matches_pytorch(student, args):
    check_output_size(student, "conv2d_output_size", args, torch_conv2d_output_size(**args))


# --- pool2d_output_size ---------------------------------------------------------------------


@pytest.mark.points(1)
def test_pool2d_output_size_lecture_examples(student):
    cases = [
        ({"size": 55, "kernel_size": 3, "stride": 2}, 27, "AlexNet pool1: 55 -> 27 (overlapping 3x3, stride 2)"),
        ({"size": 27, "kernel_size": 3, "stride": 2}, 13, "AlexNet pool2: 27 -> 13"),
        ({"size": 32, "kernel_size": 2, "stride": 2}, 16, "a 2x2 stride-2 pool halves 32 to 16"),
        ({"size": 112, "kernel_size": 3, "stride": 2, "padding": 1}, 56, "ResNet max pool: 112 -> 56"),
        ({"size": 4, "kernel_size": 2}, 2, "a 2x2 pool (stride defaults to 2) on 4x4 gives 2x2"),
    ]
    for args, expected, what in cases:
        got = call_student(student, "pool2d_output_size", args)
        assert got == expected, (
            f"{call_text('pool2d_output_size', args)} {returned(got)}, expected {expected} ({what}): "
            f"{output_size_hint(args, got, pool=True)}."
        )
    _assert_positional(student, "pool2d_output_size", ((112, 3, 2, 1), 56), ((5, 2, 2, 0, 1, True), 3),
                       ((9, 2, 2, 0, 2), 4))
    size = 224  # VGG16: five 2x2 stride-2 max pools take 224 down to 7
    for i in range(5):
        args = {"size": size, "kernel_size": 2, "stride": 2}
        got = call_student(student, "pool2d_output_size", args)
        assert got == size // 2, (
            f"VGG16 pool {i + 1} of 5: {call_text('pool2d_output_size', args)} {returned(got)}, "
            f"expected {size // 2} (224 -> 112 -> 56 -> 28 -> 14 -> 7): "
            f"{output_size_hint(args, got, pool=True)}."
        )
        size = got


@pytest.mark.points(1)
@settings(max_examples=100)
@given(args=pool_args())
@example(args={"size": 55, "kernel_size": 3, "stride": 2, "padding": 0})
@example(args={"size": 7, "kernel_size": 2, "stride": 2, "padding": 1})
def test_pool2d_output_size_matches_pytorch(student, args):
    check_output_size(student, "pool2d_output_size", args, torch_pool2d_output_size(**args))


@pytest.mark.points(1)
@settings(max_examples=60)
@given(args=pool_args(stride=False))
@example(args={"size": 32, "kernel_size": 2, "padding": 0})
def test_pool2d_output_size_stride_defaults_to_kernel_size(student, args):
    got = call_student(student, "pool2d_output_size", args)  # no stride given
    expected = torch_pool2d_output_size(**args)
    assert got == expected, (
        f"{call_text('pool2d_output_size', args)} {returned(got)}, but PyTorch's nn.MaxPool2d gives {expected}: "
        f"{output_size_hint(args, got, pool=True)}."
    )


@pytest.mark.points(1)
@settings(max_examples=60)
@given(args=pool_args(stride=None, dilation=True))
@example(args={"size": 8, "kernel_size": 3, "stride": 1, "padding": 0, "dilation": 2})
def test_pool2d_output_size_dilation_matches_pytorch(student, args):
    check_output_size(student, "pool2d_output_size", args, torch_pool2d_output_size(**args))


@pytest.mark.points(1)
@settings(max_examples=100)
@given(args=pool_args(stride=None, ceil_mode=True))
@example(args={"size": 5, "kernel_size": 2, "padding": 0, "ceil_mode": True})
@example(args={"size": 6, "kernel_size": 3, "stride": 2, "padding": 0, "ceil_mode": True})
@example(args={"size": 2, "kernel_size": 3, "stride": 2, "padding": 0, "ceil_mode": True})
@example(args={"size": 9, "kernel_size": 3, "stride": 2, "padding": 0, "dilation": 2, "ceil_mode": True})
def test_pool2d_output_size_ceil_mode_matches_pytorch(student, args):
    check_output_size(student, "pool2d_output_size", args, torch_pool2d_output_size(**args))


@pytest.mark.points(1)
@settings(max_examples=60)
@given(args=pool_args_last_window())
@example(args={"size": 5, "kernel_size": 2, "stride": 2, "padding": 1, "dilation": 1, "ceil_mode": True})
@example(args={"size": 4, "kernel_size": 1, "stride": 2, "padding": 0, "dilation": 1, "ceil_mode": True})
def test_pool2d_output_size_ceil_mode_last_window_rule(student, args):
    # these inputs are where the rule drops the last window (ceil gives what floor would): the rule
    # only counts for code that rounds up in ceil mode at all
    rounded = student.ex1_shapes.pool2d_output_size(5, 2, ceil_mode=True)
    assert rounded == 3, (
        f"pool2d_output_size(5, 2, ceil_mode=True) {returned(rounded)}, expected 3: ceil_mode=True rounds "
        "the division up (math.ceil), and only then drops a last window that would start in the padding")
    check_output_size(student, "pool2d_output_size", args, torch_pool2d_output_size(**args))


# --- parameter counts -----------------------------------------------------------------------


@pytest.mark.points(1)
@settings(max_examples=60)
@given(args=conv_param_args())
@example(args={"in_channels": 3, "out_channels": 6, "kernel_size": 5, "bias": True})
@example(args={"in_channels": 3, "out_channels": 64, "kernel_size": 3, "bias": False})
@example(args={"in_channels": 3, "out_channels": 6, "kernel_size": 5})  # bias left out: True by default
def test_conv2d_num_params_matches_pytorch(student, args):
    got = call_student(student, "conv2d_num_params", args)
    expected = count_params(torch.nn.Conv2d(args["in_channels"], args["out_channels"], args["kernel_size"],
                                            bias=args.get("bias", True)))
    hint = conv_params_hint(args, got)
    if "bias" not in args and got == expected - args["out_channels"]:
        hint = ("bias was not given, and it defaults to True, as in nn.Conv2d: "
                "def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1)")
    assert got == expected, (
        f"{call_text('conv2d_num_params', args)} {returned(got)}, but nn.Conv2d with these arguments has "
        f"{expected} parameters: {hint}."
    )


@pytest.mark.points(1)
@settings(max_examples=60)
@given(args=conv_param_args(groups=True))
@example(args={"in_channels": 32, "out_channels": 32, "kernel_size": 3, "bias": True, "groups": 32})
def test_conv2d_num_params_groups_match_pytorch(student, args):
    got = call_student(student, "conv2d_num_params", args)
    expected = count_params(torch.nn.Conv2d(args["in_channels"], args["out_channels"], args["kernel_size"],
                                            bias=args["bias"], groups=args["groups"]))
    assert got == expected, (
        f"{call_text('conv2d_num_params', args)} {returned(got)}, but nn.Conv2d with these arguments has "
        f"{expected} parameters: {conv_params_hint(args, got)}."
    )


@pytest.mark.points(1)
@settings(max_examples=50)
@given(args=conv_param_args_bad_groups())
@example(args={"in_channels": 3, "out_channels": 6, "kernel_size": 3, "groups": 2})
def test_conv2d_num_params_rejects_groups_not_dividing(student, args):
    try:  # the ground truth: PyTorch refuses these groups too
        torch.nn.Conv2d(args["in_channels"], args["out_channels"], args["kernel_size"], groups=args["groups"])
        pytorch_accepts = True
    except ValueError:
        pytorch_accepts = False
    assume(not pytorch_accepts)
    call = call_text("conv2d_num_params", args)
    with student_raises("ValueError", f"{call} (groups must divide both channel counts)") as raised:
        call_student(student, "conv2d_num_params", args)
    assert names_argument(raised.message, "groups"), (
        f"{call} raised ValueError({raised.message!r}): right exception, but the message should name "
        f"the argument 'groups' so the caller knows what to fix."
    )


@pytest.mark.points(1)
@settings(max_examples=60)
@given(args=linear_param_args)
@example(args={"in_features": 400, "out_features": 120, "bias": True})
@example(args={"in_features": 84, "out_features": 10, "bias": False})
@example(args={"in_features": 400, "out_features": 120})  # bias left out: True by default
def test_linear_num_params_matches_pytorch(student, args):
    got = call_student(student, "linear_num_params", args)
    bias = args.get("bias", True)
    expected = count_params(torch.nn.Linear(args["in_features"], args["out_features"], bias=bias))
    weights = args["in_features"] * args["out_features"]
    if got == weights and "bias" not in args:
        hint = ("bias was not given, and it defaults to True, as in nn.Linear: "
                "def linear_num_params(in_features, out_features, bias=True)")
    elif got == weights and bias:
        hint = "with bias=True there is one bias per output feature (out_features more parameters)"
    elif got == weights + args["out_features"] and not bias:
        hint = "with bias=False there are no bias parameters"
    elif got == weights + args["in_features"]:
        hint = "there is one bias per OUTPUT feature, not per input feature"
    else:
        hint = "in_features x out_features weights, plus out_features biases when bias=True"
    assert got == expected, (
        f"{call_text('linear_num_params', args)} {returned(got)}, but nn.Linear with these arguments has "
        f"{expected} parameters: {hint}."
    )


# --- receptive_field ------------------------------------------------------------------------


@pytest.mark.points(1)
def test_receptive_field_lecture_examples(student):
    cases = [
        ([(3, 1)], "one 3x3 convolution"),
        ([(3, 1), (3, 1)], "two stacked 3x3 convolutions see 5x5, like one 5x5"),
        ([(3, 1), (3, 1), (3, 1)], "three stacked 3x3 convolutions see 7x7, like one 7x7"),
        ([(3, 1), (3, 1), (2, 2)], "a VGG block: two 3x3 convolutions then a 2x2 pool"),
        ([(3, 1), (3, 1), (2, 2), (3, 1)], "a 3x3 convolution after a stride-2 pool steps 2 input pixels"),
        ([(11, 4), (3, 2)], "AlexNet conv1 (11x11, stride 4) then pool1 (3x3, stride 2)"),
    ]
    for layers, what in cases:
        expected = probe_receptive_field(layers)  # measured on real Conv2d layers
        got = student.ex1_shapes.receptive_field(layers)
        assert got == expected, (
            f"receptive_field({layers}) {returned(got)}, but one output unit of that stack ({what}) "
            f"sees {expected} input pixels along each side: {receptive_field_hint(layers, got)}."
        )
    # the same list twice: the function must only read it
    layers = [(3, 1), (3, 1), (2, 2)]
    first, second, (after,) = student.tools.call_twice(student.ex1_shapes.receptive_field, layers)
    assert first == second, (
        f"layers = {layers}; receptive_field(layers) {returned(first)} and, called again with the same "
        f"list, {returned(second)}: it changed the list it was given (layers.pop(...), del, an in-place "
        "reverse). Only read it: for kernel_size, stride in layers: ..."
    )
    assert [tuple(layer) if isinstance(layer, (list, tuple)) else layer for layer in after] == layers, (
        f"layers = {layers}; after two calls of receptive_field(layers) the list is {after}: the function "
        "changed the caller's list (insert, append, sort, an in-place reverse). Only read it; work on a "
        "copy (list(layers)) if you need another list"
    )


@pytest.mark.points(1)
@settings(max_examples=60)
@given(layers=receptive_field_layers)
@example(layers=[(3, 2), (3, 2), (3, 2)])
def test_receptive_field_matches_recurrence(student, layers):
    expected = recurrence_receptive_field(layers)
    got = student.ex1_shapes.receptive_field(layers)
    assert got == expected, (
        f"receptive_field({layers}) {returned(got)}, expected {expected} (layers are (kernel_size, stride) "
        f"pairs, first layer first): {receptive_field_hint(layers, got)}."
    )


# --- types ----------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_functions_return_int(student):
    m = student.ex1_shapes
    calls = [
        ("conv2d_output_size(7, 3, stride=2)", "conv2d_output_size", (7, 3), {"stride": 2}),
        ("conv2d_output_size(32, 5)", "conv2d_output_size", (32, 5), {}),
        ("pool2d_output_size(55, 3, stride=2)", "pool2d_output_size", (55, 3), {"stride": 2}),
        ("pool2d_output_size(5, 2, ceil_mode=True)", "pool2d_output_size", (5, 2), {"ceil_mode": True}),
        ("conv2d_num_params(3, 6, 5)", "conv2d_num_params", (3, 6, 5), {}),
        ("conv2d_num_params(4, 8, 3, groups=2)", "conv2d_num_params", (4, 8, 3), {"groups": 2}),
        ("conv2d_num_params(3, 6, 5, bias=False)", "conv2d_num_params", (3, 6, 5), {"bias": False}),
        ("linear_num_params(400, 120)", "linear_num_params", (400, 120), {}),
        ("linear_num_params(400, 120, bias=False)", "linear_num_params", (400, 120), {"bias": False}),
        ("receptive_field([(3, 1), (3, 1), (3, 1)])", "receptive_field", ([(3, 1), (3, 1), (3, 1)],), {}),
    ]
    wrong = []
    for text, name, args, kwargs in calls:
        fn = getattr(m, name)
        kind = type_name(call_keep(fn, *args, **kwargs))  # the type in the student's process: numpy's too
        if kind != "int":
            wrong.append(f"{text} returned {fn(*args, **kwargs)!r} of type {kind}")
    assert not wrong, (
        "sizes and counts must be Python ints: " + "; ".join(wrong) + ". In Python 3, a / b always gives a "
        "float; use a // b (floor division), or int(...) / math.floor(...) / math.ceil(...) on the result "
        "(numpy's functions give numpy numbers: wrap them in int(...))."
    )


# --- invalid arguments ----------------------------------------------------------------------

# A message "names the argument" when it contains one of these words (any case): "Kernel size
# must be positive" and "stride=0 is invalid" both count.
#: Words that name each argument in a ValueError's message (whole words: "kernel_size" or "output
#: size" does not name the input's size).
ARGUMENT_WORDS = {
    "size": (r"(?<!output )\bsize\b", r"\binput"),
    "kernel_size": ("kernel",),
    "stride": ("stride",),
    "dilation": ("dilation",),
    "padding": ("pad",),
    "groups": ("group",),
}


def names_argument(message: str, argument: str) -> bool:
    return any(re.search(word, message.lower()) for word in ARGUMENT_WORDS[argument])


@pytest.mark.points(1)
@settings(max_examples=60)
@given(case=bad_non_positive_call())
@example(case=("conv2d_output_size", {"size": 32, "kernel_size": 0, "stride": 1}, "kernel_size"))
@example(case=("pool2d_output_size", {"size": 32, "kernel_size": 2, "stride": 0}, "stride"))
@example(case=("conv2d_output_size", {"size": 0, "kernel_size": 1, "stride": 1, "padding": 1}, "size"))  # the
@example(case=("pool2d_output_size", {"size": 0, "kernel_size": 2, "stride": 2, "padding": 1}, "size"))  # padding fits
@example(case=("conv2d_output_size", {"size": 32, "kernel_size": 3, "stride": 0}, "stride"))
@example(case=("conv2d_output_size", {"size": 32, "kernel_size": 3, "stride": 1, "dilation": 0}, "dilation"))
@example(case=("pool2d_output_size", {"size": 32, "kernel_size": 0, "stride": 2}, "kernel_size"))
@example(case=("pool2d_output_size", {"size": 32, "kernel_size": 2, "stride": 2, "dilation": 0}, "dilation"))
@example(case=("pool2d_output_size", {"size": 32, "kernel_size": 0}, "kernel_size"))  # stride left out: it
def test_output_size_rejects_non_positive_arguments(student, case):  # defaults to kernel_size, the bad one
    name, args, bad = case
    assume(pytorch_rejects(name, args))
    call = call_text(name, args)
    with student_raises("ValueError", f"{call} ({bad} must be at least 1)") as raised:
        call_student(student, name, args)
    assert names_argument(raised.message, bad), (
        f"{call} raised ValueError({raised.message!r}): right exception, but the message should name "
        f"the bad argument '{bad}' so the caller knows what to fix."
    )


@pytest.mark.points(1)
@settings(max_examples=60)
@given(case=bad_padding_call())
@example(case=("conv2d_output_size", {"size": 32, "kernel_size": 3, "padding": -1}))
def test_output_size_rejects_negative_padding(student, case):
    name, args = case
    assume(pytorch_rejects(name, args))
    call = call_text(name, args)
    with student_raises("ValueError", f"{call} (padding must not be negative)") as raised:
        call_student(student, name, args)
    assert names_argument(raised.message, "padding"), (
        f"{call} raised ValueError({raised.message!r}): right exception, but the message should name "
        f"the bad argument 'padding' so the caller knows what to fix."
    )


@pytest.mark.points(1)
@settings(max_examples=60)
@given(case=too_small_call())
@example(case=("conv2d_output_size", {"size": 2, "kernel_size": 3, "stride": 2, "padding": 0, "dilation": 1}))
@example(case=("conv2d_output_size", {"size": 5, "kernel_size": 3, "stride": 1, "padding": 0, "dilation": 3}))
@example(case=("pool2d_output_size", {"size": 2, "kernel_size": 3, "stride": 1, "padding": 0, "dilation": 1}))
def test_output_size_rejects_output_below_one(student, case):
    name, args = case
    assume(pytorch_rejects(name, args))
    call = call_text(name, args)
    effective = args["dilation"] * (args["kernel_size"] - 1) + 1
    with student_raises(
        "ValueError",
        f"{call} (the dilated kernel spans {effective} pixels but the padded input has only "
        f"{args['size'] + 2 * args['padding']}, so the output would be smaller than 1)",
    ):
        call_student(student, name, args)
