"""Exercise 1, correct: this submission's trouble is elsewhere (see ex2_lenet.py and conftest.py)."""


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    checks = (("size", size), ("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation))
    for name, value in checks:
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if padding < 0:
        raise ValueError(f"padding must be non-negative, got {padding}")
    out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit in size={size} with padding={padding}")
    return out


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    stride = kernel_size if stride is None else stride
    checks = (("size", size), ("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation))
    for name, value in checks:
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if padding < 0:
        raise ValueError(f"padding must be non-negative, got {padding}")
    span = size + 2 * padding - dilation * (kernel_size - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit in size={size} with padding={padding}")
    return out


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("kernel_size", kernel_size), ("groups", groups)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide in_channels and out_channels")
    return out_channels * (in_channels // groups) * kernel_size * kernel_size + (out_channels if bias else 0)


def linear_num_params(in_features, out_features, bias=True):
    for name, value in (("in_features", in_features), ("out_features", out_features)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    return in_features * out_features + (out_features if bias else 0)


def receptive_field(layers):
    r, jump = 1, 1
    for kernel_size, stride in layers:
        if kernel_size < 1 or stride < 1:
            raise ValueError(f"kernel_size and stride must be at least 1, got ({kernel_size}, {stride})")
        r += (kernel_size - 1) * jump
        jump *= stride
    return r
