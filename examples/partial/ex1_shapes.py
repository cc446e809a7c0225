"""Exercise 1, plausible student work with three mistakes:
- pool2d_output_size ignores ceil_mode (always rounds down);
- conv2d_num_params ignores groups (counts every input channel for every filter);
- receptive_field adds kernel sizes and forgets that strides spread later layers out.
"""


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    if size < 1 or kernel_size < 1 or stride < 1 or dilation < 1:
        raise ValueError("size, kernel_size, stride and dilation must be positive")
    if padding < 0:
        raise ValueError("padding must be >= 0")
    out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError("kernel_size too large for the input")
    return out


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    if stride is None:
        stride = kernel_size
    # mistake: ceil_mode is ignored
    return conv2d_output_size(size, kernel_size, stride, padding, dilation)


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    # mistake: groups is ignored
    params = in_channels * out_channels * kernel_size * kernel_size
    if bias:
        params += out_channels
    return params


def linear_num_params(in_features, out_features, bias=True):
    return in_features * out_features + (out_features if bias else 0)


def receptive_field(layers):
    # mistake: strides are ignored
    r = 1
    for kernel_size, stride in layers:
        r += kernel_size - 1
    return r
