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


# --- ex4: ResNet -----------------------------------------------------------------------------

#: The four kinds of residual block: the shortcut is the identity only for "identity"; the other
#: three need the projection (1x1 convolution + batch norm).
RESNET_BLOCK_KINDS = ("identity", "channels", "stride", "channels_and_stride")


@st.composite
def resnet_block_configs(draw):
    """``BasicBlock`` keyword arguments ``{"in_channels", "out_channels", "stride"}``, the four
    kinds of block about equally often. Channels stay small (<= 12) so each example is cheap;
    stride 3 shows up now and then (the rule is ``stride != 1``, not ``stride == 2``)."""
    kind = draw(st.sampled_from(RESNET_BLOCK_KINDS))
    in_channels = draw(st.integers(1, 12))
    out_channels = in_channels
    if kind in ("channels", "channels_and_stride"):
        out_channels = draw(st.integers(1, 12).filter(lambda c: c != in_channels))
    stride = 1
    if kind in ("stride", "channels_and_stride"):
        stride = draw(st.sampled_from([2, 2, 2, 3]))
    return {"in_channels": in_channels, "out_channels": out_channels, "stride": stride}


#: ``(batch, height, width)`` of a block's input, odd and non-square sizes and a batch of one
#: included (for blocks in eval mode: in train mode batch norm needs more than one value per
#: channel, which a stride-2 block on a 2x2 image of batch 1 does not give).
resnet_block_input_sizes = st.tuples(st.integers(1, 3), st.integers(2, 10), st.integers(2, 10))

#: Seeds for the random weights and inputs of one example (a ``torch.Generator`` per example).
resnet_seeds = st.integers(min_value=0, max_value=2**31 - 1)


# --- ex3: VGG ---------------------------------------------------------------------------------

#: Small ``make_features`` configurations: 1 to 6 entries, integers (channels 1..12) and "M",
#: at least one convolution and at most 3 pools (so a 16x16 input keeps at least 2x2). Two
#: pools in a row, a pool first and a convolution last all occur.
@st.composite
def vgg_small_configs(draw):
    entries = draw(st.lists(st.one_of(st.integers(1, 12), st.just("M")), min_size=1, max_size=6))
    assume(any(v != "M" for v in entries) and entries.count("M") <= 3)
    return entries


#: ``in_channels`` for ``make_features``: grey-scale, RGB and others.
vgg_in_channels = st.integers(min_value=1, max_value=5)

#: Batch sizes and numbers of classes for the full networks (each example builds a VGG11, so
#: tests keep their example counts small); 1 is the edge case for both.
vgg_batch_sizes = st.integers(min_value=1, max_value=4)
vgg_num_classes = st.integers(min_value=1, max_value=100)

#: Seeds for the random weights and inputs of one example (a ``torch.Generator`` per example).
vgg_seeds = st.integers(min_value=0, max_value=2**31 - 1)


# --- ex6: transfer learning ---------------------------------------------------------------------

#: Numbers of classes for the new heads: any positive count (each example builds a ResNet-18,
#: so tests keep their example counts small); 1 and 1000 (ImageNet's) are named with @example.
transfer_num_classes = st.integers(min_value=1, max_value=1000)

#: ``requires_grad`` of each of the 7 parameters of the small model ``trainable_parameters`` is
#: tried on (the model's own temperature, conv weight and bias, batch-norm weight and bias, linear
#: weight and bias).
transfer_trainable_masks = st.lists(st.booleans(), min_size=7, max_size=7)


# --- ex5: training and evaluation loops ----------------------------------------------------------

#: ``(number of samples, batch size)`` of one epoch over a small data set: the last batch is
#: smaller whenever the batch size does not divide the number of samples (the case a per-sample
#: mean must get right), and a single partial batch occurs too.
ex5_epoch_sizes = st.tuples(st.integers(min_value=2, max_value=24), st.integers(min_value=2, max_value=8))

#: Numbers of classes for the small classifiers ``evaluate`` is tried on.
ex5_num_classes = st.integers(min_value=2, max_value=6)

#: Seeds for the weights and data of one example (a ``torch.Generator`` per example).
ex5_seeds = st.integers(min_value=0, max_value=2**31 - 1)

#: Scales of the last layer's weights: 1 for losses around 1, 40 for losses of 10 to 100 (a loss
#: capped or clipped on its way into the epoch's mean shows only there).
ex5_logit_scales = st.sampled_from([1.0, 40.0])


@st.composite
def cosine_lr_args(draw):
    """``(base_lr, epoch, total_epochs)`` with ``0 <= epoch <= total_epochs``."""
    base_lr = draw(st.floats(min_value=1e-5, max_value=10.0, allow_nan=False, allow_infinity=False))
    total_epochs = draw(st.integers(min_value=1, max_value=500))
    return base_lr, draw(st.integers(min_value=0, max_value=total_epochs)), total_epochs
