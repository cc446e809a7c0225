"""Exercise 1 -- numpy-minded student: closed formulas, math.ceil, a jump-product loop."""
import math

import numpy as np


def _check(size, kernel_size, stride, padding, dilation):
    args = {"size": size, "kernel_size": kernel_size, "stride": stride, "dilation": dilation}
    bad = [k for k, v in args.items() if v < 1]
    if bad:
        k = bad[0]
        raise ValueError(f"{k} must be a positive integer, got {k}={args[k]}")
    if padding < 0:
        raise ValueError(f"padding must be non-negative, got padding={padding}")


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    _check(size, kernel_size, stride, padding, dilation)
    out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} too large for size={size} (output {out})")
    return int(out)


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    if stride is None:
        stride = kernel_size
    _check(size, kernel_size, stride, padding, dilation)
    numerator = size + 2 * padding - dilation * (kernel_size - 1) - 1
    if not ceil_mode:
        out = numerator // stride + 1
    else:
        out = math.ceil(numerator / stride) + 1
        # the last window has to begin before the right padding starts
        last_window_start = (out - 1) * stride
        right_padding_start = size + padding
        out -= int(last_window_start >= right_padding_start)
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} too large for size={size} (output {out})")
    return int(out)


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    if np.gcd(in_channels, groups) != groups or np.gcd(out_channels, groups) != groups:
        raise ValueError(f"groups={groups} does not divide in_channels={in_channels} and out_channels={out_channels}")
    shape = (out_channels, in_channels // groups, kernel_size, kernel_size)
    return int(np.prod(shape)) + (int(out_channels) if bias else 0)


def linear_num_params(in_features, out_features, bias=True):
    return int(np.prod((out_features, in_features))) + int(bias) * out_features


def receptive_field(layers):
    if not layers:
        return 1
    kernels = np.array([k for k, _ in layers], dtype=np.int64)
    strides = np.array([s for _, s in layers], dtype=np.int64)
    jumps = np.concatenate(([1], np.cumprod(strides)[:-1]))
    return int(1 + np.sum((kernels - 1) * jumps))
