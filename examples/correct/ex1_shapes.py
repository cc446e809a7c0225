"""Exercise 1, as a careful student might write it (correct, in a different style from the
reference: math.floor/math.ceil on true division, one validation helper, and the receptive field
computed backwards from the output unit)."""

import math


def _require_positive(**arguments):
    for name, value in arguments.items():
        if value <= 0:
            raise ValueError(f"{name} must be >= 1 (got {value})")


def _require_non_negative_padding(padding):
    if padding < 0:
        raise ValueError(f"padding cannot be negative (got {padding})")


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    _require_positive(size=size, kernel_size=kernel_size, stride=stride, dilation=dilation)
    _require_non_negative_padding(padding)
    out = math.floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1
    if out < 1:
        raise ValueError(
            f"kernel_size {kernel_size} with dilation {dilation} is larger than the padded input"
        )
    return out


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    stride = kernel_size if stride is None else stride
    _require_positive(size=size, kernel_size=kernel_size, stride=stride, dilation=dilation)
    _require_non_negative_padding(padding)
    rounding = math.ceil if ceil_mode else math.floor
    out = rounding((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1
    # PyTorch: with ceil_mode the last window has to start inside the input or the left padding.
    if ceil_mode and (out - 1) * stride >= size + padding:
        out = out - 1
    if out < 1:
        raise ValueError(
            f"kernel_size {kernel_size} with dilation {dilation} is larger than the padded input"
        )
    return out


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    if isinstance(kernel_size, (tuple, list)):
        kernel_h, kernel_w = kernel_size
    else:
        kernel_h = kernel_w = kernel_size
    _require_positive(in_channels=in_channels, out_channels=out_channels, kernel_size=min(kernel_h, kernel_w),
                      groups=groups)
    if in_channels % groups != 0 or out_channels % groups != 0:
        raise ValueError(f"groups ({groups}) has to divide in_channels and out_channels")
    n_weights = (in_channels // groups) * kernel_h * kernel_w * out_channels
    n_biases = out_channels if bias else 0
    return n_weights + n_biases


def linear_num_params(in_features, out_features, bias=True):
    _require_positive(in_features=in_features, out_features=out_features)
    return in_features * out_features + (out_features if bias else 0)


def receptive_field(layers):
    # Walk back from one output unit: a window of r units at a layer's output covers
    # (r - 1) * stride + kernel_size units at its input.
    r = 1
    for kernel_size, stride in reversed(list(layers)):
        _require_positive(kernel_size=kernel_size, stride=stride)
        r = (r - 1) * stride + kernel_size
    return r
