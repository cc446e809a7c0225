"""Exercise 1: output sizes, parameter counts and receptive fields of CNN layers.

Reference solution (instructor only).

Every formula here is the one PyTorch uses for ``nn.Conv2d``, ``nn.MaxPool2d`` and ``nn.Linear``
(see their documentation, "Shape" sections) and the one derived in

    V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning",
    arXiv:1603.07285, 2016 (relationships 1-6 for convolutions, section 3 for pooling).

All functions work on one spatial dimension (square inputs and kernels) and return ``int``.
Invalid arguments raise ``ValueError`` with a message naming the argument.
"""

from __future__ import annotations

__all__ = [
    "conv2d_output_size",
    "pool2d_output_size",
    "conv2d_num_params",
    "linear_num_params",
    "receptive_field",
]


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Spatial output size of ``nn.Conv2d`` along one dimension.

    out = floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1
    """
    # BEGIN SOLUTION
    for name, value in (("size", size), ("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {name}={value}")
    if padding < 0:
        raise ValueError(f"padding must be non-negative, got padding={padding}")
    effective_kernel = dilation * (kernel_size - 1) + 1
    out = (size + 2 * padding - effective_kernel) // stride + 1
    if out < 1:
        raise ValueError(
            f"output size would be {out}: the padded input (size + 2*padding = {size + 2 * padding}) "
            f"is smaller than the effective kernel_size (dilation*(kernel_size-1)+1 = {effective_kernel})"
        )
    return out
    # END SOLUTION


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Spatial output size of ``nn.MaxPool2d`` along one dimension.

    out = floor_or_ceil((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1,
    stride defaults to kernel_size; with ceil_mode the last window must start inside the input or
    the left padding (PyTorch drops a window that would start in the right padding).
    """
    # BEGIN SOLUTION
    if stride is None:
        stride = kernel_size
    for name, value in (("size", size), ("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {name}={value}")
    if padding < 0:
        raise ValueError(f"padding must be non-negative, got padding={padding}")
    span = size + 2 * padding - dilation * (kernel_size - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + padding:
            out -= 1  # the last window would start in the right padding: PyTorch drops it
    else:
        out = span // stride + 1
    if out < 1:
        raise ValueError(
            f"output size would be {out}: kernel_size={kernel_size} (dilation={dilation}) does not fit "
            f"in size={size} with padding={padding}"
        )
    return out
    # END SOLUTION


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    """Number of learnable parameters of ``nn.Conv2d``.

    weights: out_channels * (in_channels // groups) * kh * kw, plus out_channels biases.
    ``kernel_size`` is an int (square kernel) or a ``(kh, kw)`` pair.
    """
    # BEGIN SOLUTION
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("kernel_size", kh), ("kernel_size", kw), ("groups", groups)):
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {name}={value}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups={groups} must divide both in_channels={in_channels} and out_channels={out_channels}"
        )
    weights = out_channels * (in_channels // groups) * kh * kw
    return weights + (out_channels if bias else 0)
    # END SOLUTION


def linear_num_params(in_features, out_features, bias=True):
    """Number of learnable parameters of ``nn.Linear``: in*out weights plus out biases."""
    # BEGIN SOLUTION
    for name, value in (("in_features", in_features), ("out_features", out_features)):
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {name}={value}")
    return in_features * out_features + (out_features if bias else 0)
    # END SOLUTION


def receptive_field(layers):
    """Receptive field (in input pixels, along one dimension) of one output unit of a stack of
    layers given as ``(kernel_size, stride)`` pairs, first layer first.

    r = 1, jump = 1; for each layer: r += (kernel_size - 1) * jump; jump *= stride
    """
    # BEGIN SOLUTION
    r, jump = 1, 1
    for i, (kernel_size, stride) in enumerate(layers):
        if kernel_size < 1:
            raise ValueError(f"layer {i}: kernel_size must be a positive integer, got {kernel_size}")
        if stride < 1:
            raise ValueError(f"layer {i}: stride must be a positive integer, got {stride}")
        r += (kernel_size - 1) * jump
        jump *= stride
    return r
    # END SOLUTION
