"""Hypothesis strategies shared by the hidden suites.

The engine loads a derandomized hypothesis profile with no example database for every suite it
runs (``autograder.plugin``), so the same submission always gets the same grade. Strategies here
only describe inputs; tests say how many examples they need with ``@settings(max_examples=...)``.
"""

from __future__ import annotations

from hypothesis import strategies as st

# --- ex1: output sizes and parameter counts -------------------------------------------------
# Every strategy returns the keyword arguments of one call. Value strategies only produce inputs
# PyTorch accepts (sizes <= 64 so the ground truth on real tensors stays fast); the "bad_*"
# strategies break exactly one rule the handout states and keep every other argument valid.

from hypothesis import assume  # noqa: E402  (rejects a drawn example inside a composite)

EX1_MAX_SIZE = 64
EX1_OUTPUT_SIZE_ARGS = ("size", "kernel_size", "stride", "dilation")


def _effective_kernel(kernel_size: int, dilation: int) -> int:
    return dilation * (kernel_size - 1) + 1


@st.composite
def conv_args(draw, *, stride=True, padding=True, dilation=False):
    """Valid ``conv2d_output_size`` arguments (the padded input holds the dilated kernel).

    ``dilation=True`` draws dilation 2 or 3, ``False`` leaves it at 1; ``stride`` / ``padding``
    False leave them at their defaults (and out of the returned dict).
    """
    kernel_size = draw(st.integers(1, 11))
    args = {"kernel_size": kernel_size}
    if stride:
        args["stride"] = draw(st.integers(1, 5))
    if padding:
        args["padding"] = draw(st.integers(0, 4))
    if dilation:
        args["dilation"] = draw(st.integers(2, 3))
    low = max(1, _effective_kernel(kernel_size, args.get("dilation", 1)) - 2 * args.get("padding", 0))
    args["size"] = draw(st.integers(low, EX1_MAX_SIZE))
    return args


@st.composite
def pool_args(draw, *, stride=True, dilation=False, ceil_mode=False):
    """Valid ``pool2d_output_size`` arguments for ``nn.MaxPool2d``.

    PyTorch only pools with padding <= kernel_size // 2, so padding stays there. ``stride=False``
    leaves stride out (it defaults to kernel_size), ``stride=None`` draws it or leaves it out.
    With ``ceil_mode`` the input may even be a little smaller than the kernel: the one (partial)
    window then starts at the left edge, and PyTorch returns 1.
    """
    kernel_size = draw(st.integers(1, 8))
    args = {"kernel_size": kernel_size, "padding": draw(st.integers(0, kernel_size // 2))}
    if stride is None:
        stride = draw(st.booleans())
    if stride:
        args["stride"] = draw(st.integers(1, 6))
    if dilation:
        args["dilation"] = draw(st.integers(2, 3))
    if ceil_mode:
        args["ceil_mode"] = True
    step = args.get("stride", kernel_size)
    low = _effective_kernel(kernel_size, args.get("dilation", 1)) - 2 * args["padding"]
    if ceil_mode:
        low -= step - 1
    args["size"] = draw(st.integers(max(1, low), EX1_MAX_SIZE))
    return args


@st.composite
def pool_args_last_window(draw):
    """``ceil_mode=True`` arguments where rounding up alone would add a window that starts in the
    right padding (or past the input): PyTorch drops that window, so these inputs tell an
    implementation with the last-window rule from one without it.

    Built directly: with ``full`` whole windows and a remainder ``r`` (0 < r < stride) of
    ``span = size + 2*padding - effective``, rounding up adds a window starting at
    ``full*stride``, which lies at or past ``size + padding`` exactly when
    ``r <= stride + padding - effective``.
    """
    kernel_size = draw(st.integers(1, 6))
    padding = draw(st.integers(0, kernel_size // 2))
    dilation = draw(st.sampled_from([1, 1, 2]))
    effective = _effective_kernel(kernel_size, dilation)
    stride = draw(st.integers(max(2, effective - padding + 1), effective - padding + 5))
    r = draw(st.integers(1, min(stride - 1, stride + padding - effective)))
    smallest = r - 2 * padding + effective  # the size with one whole window
    full = draw(st.integers(1, max(1, (48 - smallest) // stride + 1)))
    return {"size": smallest + (full - 1) * stride, "kernel_size": kernel_size, "stride": stride,
            "padding": padding, "dilation": dilation, "ceil_mode": True}


@st.composite
def conv_param_args(draw, *, groups=False):
    """Valid ``conv2d_num_params`` arguments; ``groups=True`` draws groups 2..6 dividing both
    channel counts."""
    g = draw(st.integers(2, 6)) if groups else 1
    args = {
        "in_channels": g * draw(st.integers(1, 8)),
        "out_channels": g * draw(st.integers(1, 8)),
        "kernel_size": draw(st.integers(1, 7)),
        "bias": draw(st.booleans()),
    }
    if groups:
        args["groups"] = g
    return args


@st.composite
def conv_param_args_bad_groups(draw):
    """``conv2d_num_params`` arguments where groups does not divide in_channels or out_channels."""
    groups = draw(st.integers(2, 6))
    in_channels = draw(st.integers(1, 24))
    out_channels = draw(st.integers(1, 24))
    assume(in_channels % groups or out_channels % groups)
    return {"in_channels": in_channels, "out_channels": out_channels,
            "kernel_size": draw(st.integers(1, 5)), "groups": groups}


linear_param_args = st.fixed_dictionaries({
    "in_features": st.integers(1, 300),
    "out_features": st.integers(1, 300),
    "bias": st.booleans(),
})

receptive_field_layers = st.lists(
    st.tuples(st.integers(1, 7), st.integers(1, 3)), min_size=1, max_size=5
)


@st.composite
def output_size_call(draw):
    """``(function_name, kwargs)`` for conv2d_output_size or pool2d_output_size, all valid."""
    name = draw(st.sampled_from(["conv2d_output_size", "pool2d_output_size"]))
    if name == "conv2d_output_size":
        args = draw(conv_args(dilation=draw(st.booleans())))
    else:
        args = draw(pool_args(dilation=draw(st.booleans()), ceil_mode=draw(st.booleans())))
    return name, args


@st.composite
def bad_non_positive_call(draw):
    """``(function_name, kwargs, bad_argument)``: one of size, kernel_size, stride, dilation is
    0 or negative; everything else is valid (stride always given, so it never defaults to a bad
    kernel_size)."""
    name, args = draw(output_size_call())
    args.setdefault("stride", 1)
    bad = draw(st.sampled_from(EX1_OUTPUT_SIZE_ARGS))
    args[bad] = draw(st.integers(-3, 0))
    return name, args, bad


@st.composite
def bad_padding_call(draw):
    """``(function_name, kwargs)`` with a negative padding; the output would still be >= 1, so
    negative padding is the only thing wrong."""
    name, args = draw(output_size_call())
    args["padding"] = -draw(st.integers(1, 3))
    effective = _effective_kernel(args["kernel_size"], args.get("dilation", 1))
    assume(args["size"] + 2 * args["padding"] >= effective)
    return name, args


@st.composite
def too_small_call(draw):
    """``(function_name, kwargs)`` with every argument valid on its own but a (dilated) kernel
    that does not fit in the padded input, so the output size would be smaller than 1 (also in
    ceil_mode, where the stride is kept short enough)."""
    name = draw(st.sampled_from(["conv2d_output_size", "pool2d_output_size"]))
    kernel_size = draw(st.integers(2, 11))
    dilation = draw(st.integers(1, 3))
    effective = _effective_kernel(kernel_size, dilation)
    max_padding = 3 if name == "conv2d_output_size" else kernel_size // 2
    padding = draw(st.integers(0, max_padding))
    stride = draw(st.integers(1, 4))
    ceil_mode = name == "pool2d_output_size" and draw(st.booleans())
    slack = stride - 1 if ceil_mode else 0
    high = effective - 2 * padding - 1 - slack
    assume(high >= 1)
    args = {"size": draw(st.integers(1, high)), "kernel_size": kernel_size, "stride": stride,
            "padding": padding, "dilation": dilation}
    if ceil_mode:
        args["ceil_mode"] = True
    return name, args


# --- ex2: LeNet ------------------------------------------------------------------------------

#: Batch sizes for LeNet inputs; 1 is the edge case (``x.squeeze()`` or ``torch.flatten(x)``
#: without ``start_dim`` drop the batch dimension there), so tests also name it with ``@example``.
lenet_batch_sizes = st.integers(min_value=1, max_value=16)

#: Numbers of classes for ``Net(num_classes=...)``: any positive count, 10 included.
lenet_num_classes = st.integers(min_value=1, max_value=100)

#: Seeds for the random weights and images of one example (a ``torch.Generator`` per example).
lenet_seeds = st.integers(min_value=0, max_value=2**31 - 1)
