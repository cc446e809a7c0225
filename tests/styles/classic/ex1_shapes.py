"""ex1, 'reuse' style: pool2d reuses conv2d_output_size in floor mode; recursive receptive field."""
import math


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    args = dict(size=size, kernel_size=kernel_size, stride=stride, dilation=dilation)
    bad = [name for name, value in args.items() if value < 1]
    if bad:
        raise ValueError(f"{bad[0]} has to be a positive integer, got {args[bad[0]]}")
    if padding < 0:
        raise ValueError(f"padding={padding} is negative")
    effective = dilation * (kernel_size - 1) + 1
    if effective > size + 2 * padding:
        raise ValueError(f"effective kernel_size {effective} exceeds padded input size {size + 2 * padding}")
    return (size + 2 * padding - effective) // stride + 1


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    stride = kernel_size if stride is None else stride
    if not ceil_mode:
        return conv2d_output_size(size, kernel_size, stride, padding, dilation)
    for name, value in (("size", size), ("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
        if value < 1:
            raise ValueError(f"{name} has to be a positive integer, got {value}")
    if padding < 0:
        raise ValueError(f"padding={padding} is negative")
    out = math.ceil((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    if out < 1:
        raise ValueError(f"kernel_size {kernel_size} too large: output would be {out}")
    return out


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} does not divide in_channels={in_channels} / out_channels={out_channels}")
    per_filter = (in_channels // groups) * kernel_size ** 2 + (1 if bias else 0)
    return out_channels * per_filter


def linear_num_params(in_features, out_features, bias=True):
    return out_features * in_features + bias * out_features


def receptive_field(layers):
    """r_in = (r_out - 1) * stride + kernel, walked from the last layer back (recursive)."""
    def walk(i, r):
        if i < 0:
            return r
        k, s = layers[i]
        return walk(i - 1, (r - 1) * s + k)
    layers = list(layers)
    return walk(len(layers) - 1, 1)
