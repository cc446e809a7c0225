"""ex1, compact: (a + b - 1) // b for ceil, validation via a table."""


def _positive(**kw):
    for k, v in kw.items():
        if v <= 0:
            raise ValueError(f"Expected {k} > 0 but got {v}")


def _span(size, kernel_size, padding, dilation):
    if padding < 0:
        raise ValueError(f"Negative padding is not allowed: {padding}")
    return size + 2 * padding - dilation * (kernel_size - 1) - 1


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    _positive(size=size, kernel_size=kernel_size, stride=stride, dilation=dilation)
    out = _span(size, kernel_size, padding, dilation) // stride + 1
    if out < 1:
        raise ValueError(f"Output size {out} < 1: kernel_size {kernel_size} too big for input size {size}")
    return out


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    if stride is None:
        stride = kernel_size
    _positive(size=size, kernel_size=kernel_size, stride=stride, dilation=dilation)
    span = _span(size, kernel_size, padding, dilation)
    out = ((span + stride - 1) // stride if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    if out < 1:
        raise ValueError(f"Output size {out} < 1: kernel_size {kernel_size} too big for input size {size}")
    return out


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    kh, kw = (kernel_size, kernel_size) if not hasattr(kernel_size, "__len__") else kernel_size
    if in_channels % groups != 0:
        raise ValueError(f"in_channels ({in_channels}) not divisible by groups ({groups})")
    if out_channels % groups != 0:
        raise ValueError(f"out_channels ({out_channels}) not divisible by groups ({groups})")
    return out_channels * in_channels // groups * kh * kw + (out_channels if bias else 0)


def linear_num_params(in_features, out_features, bias=True):
    return (in_features + 1) * out_features if bias else in_features * out_features


def receptive_field(layers):
    rf, jump = 1, 1
    for k, s in layers:
        rf, jump = rf + (k - 1) * jump, jump * s
    return rf
