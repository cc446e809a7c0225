"""Exercise 1 -- keras-minded student: a validation helper table, math.floor everywhere."""
import math

_POSITIVE = ("size", "kernel_size", "stride", "dilation")


def _validate(**kwargs):
    for key, value in kwargs.items():
        if key in _POSITIVE and value < 1:
            raise ValueError(f"{key} must be a positive integer, got {key}={value}")
        if key == "padding" and value < 0:
            raise ValueError(f"padding must be >= 0, got padding={value}")


def _effective_kernel(kernel_size, dilation):
    return dilation * (kernel_size - 1) + 1


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    _validate(size=size, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
    padded = size + 2 * padding
    out = math.floor((padded - _effective_kernel(kernel_size, dilation)) / stride) + 1
    if out < 1:
        raise ValueError(
            f"output size {out} < 1: kernel_size={kernel_size} (dilation={dilation}) does not fit "
            f"in the padded input size={size}, padding={padding}"
        )
    return int(out)


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    stride = kernel_size if stride is None else stride
    _validate(size=size, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
    numerator = size + 2 * padding - _effective_kernel(kernel_size, dilation)
    rounding = math.ceil if ceil_mode else math.floor
    out = int(rounding(numerator / stride)) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out = out - 1
    if out < 1:
        raise ValueError(
            f"output size {out} < 1: kernel_size={kernel_size} does not fit in size={size} "
            f"with padding={padding}"
        )
    return out


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    if groups < 1 or in_channels % groups != 0 or out_channels % groups != 0:
        raise ValueError(
            f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}"
        )
    if isinstance(kernel_size, (tuple, list)):
        kh, kw = kernel_size
    else:
        kh = kw = kernel_size
    weights = out_channels * (in_channels // groups) * kh * kw
    biases = out_channels if bias else 0
    return int(weights + biases)


def linear_num_params(in_features, out_features, bias=True):
    return int(in_features * out_features + (out_features if bias else 0))


def receptive_field(layers):
    field, jump = 1, 1
    for kernel_size, stride in layers:
        field += (kernel_size - 1) * jump
        jump *= stride
    return int(field)
