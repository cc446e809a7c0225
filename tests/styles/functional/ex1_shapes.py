"""ex1, closed-form with a ceil-division helper and a product formula for the receptive field."""
from functools import reduce
from operator import mul


def _ceil_div(a, b):
    q, r = divmod(a, b)
    return q + (1 if r else 0)


def _validate(size, kernel_size, stride, padding, dilation):
    checks = {"size": size, "kernel_size": kernel_size, "stride": stride, "dilation": dilation}
    for arg, val in checks.items():
        if not val >= 1:
            raise ValueError(f"invalid {arg}: {val!r} (must be a positive int)")
    if padding < 0:
        raise ValueError(f"invalid padding: {padding!r} (must be >= 0)")


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    _validate(size, kernel_size, stride, padding, dilation)
    numerator = size + 2 * padding - dilation * (kernel_size - 1) - 1
    if numerator < 0:
        raise ValueError("kernel_size too large for the (padded) input size: output would be < 1")
    return numerator // stride + 1


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    stride = kernel_size if stride is None else stride
    _validate(size, kernel_size, stride, padding, dilation)
    numerator = size + 2 * padding - dilation * (kernel_size - 1) - 1
    if not ceil_mode:
        out = numerator // stride + 1
    else:
        out = _ceil_div(numerator, stride) + 1
        if (out - 1) * stride >= size + padding:
            out -= 1
    if out <= 0:
        raise ValueError(f"kernel_size={kernel_size} is too large for input size={size}")
    return int(out)


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    ks = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    if in_channels % groups or out_channels % groups:
        raise ValueError("in_channels and out_channels must both be divisible by groups")
    return out_channels * (in_channels // groups) * reduce(mul, ks, 1) + int(bias) * out_channels


def linear_num_params(in_features, out_features, bias=True):
    return out_features * (in_features + int(bool(bias)))


def receptive_field(layers):
    layers = list(layers)
    # r = 1 + sum_i (k_i - 1) * prod_{j < i} s_j
    total = 1
    for i, (k, _) in enumerate(layers):
        total += (k - 1) * reduce(mul, (s for _, s in layers[:i]), 1)
    return total
