"""ex1, 'tutorial' style: math.ceil on true division, _pair helper accepting tuples."""
import math


def _pair(v):
    if isinstance(v, (tuple, list)):
        return tuple(v)
    return (v, v)


def _single(v, name):
    a, b = _pair(v)
    if a != b:
        raise ValueError(f"{name} must be square, got {v}")
    return a


def _check(size, kernel_size, stride, padding, dilation):
    if size < 1:
        raise ValueError("input size must be at least 1")
    if kernel_size < 1:
        raise ValueError("kernel size must be at least 1")
    if stride < 1:
        raise ValueError("stride must be at least 1")
    if dilation < 1:
        raise ValueError("dilation must be at least 1")
    if padding < 0:
        raise ValueError("padding must be at least 0")


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    size, kernel_size, stride = _single(size, "size"), _single(kernel_size, "kernel_size"), _single(stride, "stride")
    padding, dilation = _single(padding, "padding"), _single(dilation, "dilation")
    _check(size, kernel_size, stride, padding, dilation)
    out = math.floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1)
    if out < 1:
        raise ValueError(f"kernel (kernel_size={kernel_size}, dilation={dilation}) larger than padded input")
    return int(out)


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    if stride is None:
        stride = kernel_size
    size, kernel_size, stride = _single(size, "size"), _single(kernel_size, "kernel_size"), _single(stride, "stride")
    padding, dilation = _single(padding, "padding"), _single(dilation, "dilation")
    _check(size, kernel_size, stride, padding, dilation)
    x = (size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride
    out = (math.ceil(x) if ceil_mode else math.floor(x)) + 1
    if ceil_mode:
        last_start = (out - 1) * stride
        if last_start >= size + padding:
            out -= 1
    if out < 1:
        raise ValueError(f"kernel (kernel_size={kernel_size}, dilation={dilation}) larger than padded input")
    return int(out)


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    kh, kw = _pair(kernel_size)
    if groups <= 0 or in_channels % groups or out_channels % groups:
        raise ValueError(f"invalid number of groups: {groups}")
    weight = out_channels * (in_channels // groups) * kh * kw
    return int(weight + (out_channels if bias else 0))


def linear_num_params(in_features, out_features, bias=True):
    weight = in_features * out_features
    return weight + out_features if bias else weight


def receptive_field(layers):
    rf = 1
    jump = 1
    for kernel_size, stride in layers:
        kernel_size = _single(kernel_size, "kernel_size")
        stride = _single(stride, "stride")
        rf += (kernel_size - 1) * jump
        jump *= stride
    return rf
