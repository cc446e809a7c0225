"""ex1, loop style: count the filter positions one by one."""


def _check_positive(name, value):
    if value < 1:
        raise ValueError(f"{name} must be >= 1, but {name}={value}")


def _check_padding(padding):
    if padding < 0:
        raise ValueError(f"padding can't be negative (padding={padding})")


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    _check_positive("size", size)
    _check_positive("kernel_size", kernel_size)
    _check_positive("stride", stride)
    _check_positive("dilation", dilation)
    _check_padding(padding)
    padded = size + 2 * padding
    span = dilation * (kernel_size - 1) + 1
    positions = 0
    start = 0
    while start + span <= padded:
        positions += 1
        start += stride
    if positions == 0:
        raise ValueError(f"kernel_size={kernel_size} (dilation {dilation}) does not fit in the padded input of size {padded}")
    return positions


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    if stride is None:
        stride = kernel_size
    _check_positive("size", size)
    _check_positive("kernel_size", kernel_size)
    _check_positive("stride", stride)
    _check_positive("dilation", dilation)
    _check_padding(padding)
    padded = size + 2 * padding
    span = dilation * (kernel_size - 1) + 1
    positions = 0
    start = 0
    while True:
        if start + span <= padded:
            positions += 1          # the whole window fits
        elif ceil_mode and start < size + padding and (start - stride) + span < padded:
            # ceil mode: a window hanging over the right edge is kept when the previous one
            # left pixels uncovered, but only if it starts inside the input or the left padding
            positions += 1
        else:
            break
        start += stride
    if positions < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit: output size would be < 1")
    return positions


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    if type(kernel_size) in (tuple, list):
        kh, kw = kernel_size
    else:
        kh, kw = kernel_size, kernel_size
    if groups < 1 or in_channels % groups != 0 or out_channels % groups != 0:
        raise ValueError(f"groups={groups} has to divide in_channels={in_channels} and out_channels={out_channels}")
    total = 0
    for _ in range(out_channels):
        total += (in_channels // groups) * kh * kw
        if bias:
            total += 1
    return total


def linear_num_params(in_features, out_features, bias=True):
    _check_positive("in_features", in_features)
    _check_positive("out_features", out_features)
    count = in_features * out_features
    if bias:
        count += out_features
    return count


def receptive_field(layers):
    r = 1
    jump = 1
    for layer in layers:
        k, s = layer[0], layer[1]
        _check_positive("kernel_size", k)
        _check_positive("stride", s)
        r = r + (k - 1) * jump
        jump = jump * s
    return r
