"""Exercise 1: output sizes, parameter counts and receptive fields of CNN layers.

Before you build a CNN you should be able to predict, on paper, the shape of every activation and
the number of parameters of every layer. In this exercise you write those formulas as functions.
The grader checks them against PyTorch itself (``nn.Conv2d``, ``nn.MaxPool2d`` and ``nn.Linear``
run on real tensors) on many random inputs, and against the lecture's worked examples.

Conventions for every function below:
  * Inputs and kernels are square, so each size is ONE integer (the height, which equals the
    width). ``size=32`` means a 32x32 input.
  * Every function returns a Python ``int``. Careful: in Python 3, ``a / b`` is always a float
    (``6 / 2 == 3.0``); use floor division ``a // b``, or ``math.floor`` / ``math.ceil``.
  * Invalid arguments raise ``ValueError`` with a message that names the argument, e.g.
    ``raise ValueError(f"stride must be a positive integer, got stride={stride}")``.

Reading: V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning"
(arXiv:1603.07285, 2016), chapters 2 and 3; the "Shape" sections of the PyTorch documentation of
``torch.nn.Conv2d`` and ``torch.nn.MaxPool2d``.

Check your work with ``grade check ex1`` (public tests only; the hidden tests check much more).
"""

# BEGIN SOLUTION NO PROMPT
# Reference solution (instructor only). `grade assign` writes the student's stub from this file:
# every "BEGIN SOLUTION" block becomes `raise NotImplementedError`, and blocks like this one go.
# END SOLUTION

from __future__ import annotations

__all__ = [
    "conv2d_output_size",
    "pool2d_output_size",
    "conv2d_num_params",
    "linear_num_params",
    "receptive_field",
]


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Spatial output size of ``nn.Conv2d`` along one dimension.

    Inputs:
    - size: int, the input height (= width) in pixels; must be >= 1.
    - kernel_size: int, the filter height (= width); must be >= 1.
    - stride: int, how many pixels the filter moves between positions; must be >= 1.
    - padding: int, zero pixels added on EACH side of the input; must be >= 0.
    - dilation: int, spacing between the filter's taps; must be >= 1. A dilated kernel covers
      dilation*(kernel_size - 1) + 1 input pixels.

    Returns:
    - out: int, the output height (= width):

          out = floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1

      This is exactly what ``nn.Conv2d(c_in, c_out, kernel_size, stride, padding, dilation)``
      produces on an input of shape (N, c_in, size, size).

    Raises:
    - ValueError, with a message naming the argument, when size, kernel_size, stride or
      dilation is < 1, when padding is < 0, or when the result would be smaller than 1 (the
      dilated kernel does not fit in the padded input).

    Examples:
    >>> conv2d_output_size(7, 3)               # a 3x3 filter fits in 5 positions of 7
    5
    >>> conv2d_output_size(7, 3, stride=2)
    3
    >>> conv2d_output_size(227, 11, stride=4)  # AlexNet conv1
    55
    >>> conv2d_output_size(32, 3, padding=1)   # "same" padding keeps the size
    32
    """
    # TODO: Implement the formula above.
    # Hints:
    # - Validate the arguments first, each with its own message naming it.
    # - Count the positions of the filter's first tap: 0, stride, 2*stride, ... as long as the
    #   whole (dilated) filter stays inside the padded input. That is the division, rounded
    #   down, plus one for position 0.
    # - `//` rounds down and keeps ints.
    # BEGIN SOLUTION
    for name, value in (("size", size), ("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {name}={value}")
    if padding < 0:
        raise ValueError(f"padding must be non-negative, got padding={padding}")
    effective_kernel = dilation * (kernel_size - 1) + 1
    out = (size + 2 * padding - effective_kernel) // stride + 1
    if out < 1:
        raise ValueError(
            f"output size would be {out}: the padded input (size + 2*padding = {size + 2 * padding}) "
            f"is smaller than the effective kernel_size (dilation*(kernel_size-1)+1 = {effective_kernel})"
        )
    return out
    # END SOLUTION


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Spatial output size of ``nn.MaxPool2d`` along one dimension.

    Inputs:
    - size: int, the input height (= width); must be >= 1.
    - kernel_size: int, the pooling window's height (= width); must be >= 1.
    - stride: int or None; must be >= 1 when given. None (the default) means stride = kernel_size,
      as in PyTorch: a 2x2 pool moves 2 pixels by default.
    - padding: int, implicit padding on EACH side; must be >= 0. (PyTorch itself also requires
      padding <= kernel_size // 2; the grader never sends more, and you need not check it.)
    - dilation: int, spacing between the window's taps; must be >= 1.
    - ceil_mode: bool. False: round the division down, as for convolutions. True: round it up, so
      a last window that hangs over the right edge is kept, with PyTorch's rule: the last window
      must START inside the input or the left padding. A window that would start in the right
      padding (or beyond) is dropped.

    Returns:
    - out: int, the output height (= width):

          span = size + 2*padding - dilation*(kernel_size - 1) - 1
          ceil_mode=False:  out = floor(span / stride) + 1
          ceil_mode=True:   out = ceil(span / stride) + 1
                            and then, if (out - 1)*stride >= size + padding: out = out - 1

      This is exactly what ``nn.MaxPool2d(kernel_size, stride, padding, dilation,
      ceil_mode=ceil_mode)`` produces. In ceil_mode the window may be larger than the padded
      input (span < 0): the formula then still gives 1 when ceil(span / stride) == 0.

    Raises:
    - ValueError, with a message naming the argument, when size, kernel_size, stride or
      dilation is < 1, when padding is < 0, or when the result would be smaller than 1.

    Examples:
    >>> pool2d_output_size(55, 3, stride=2)    # AlexNet pool1, overlapping windows
    27
    >>> pool2d_output_size(224, 2)             # VGG: stride defaults to 2; five of them: 224 -> 7
    112
    >>> pool2d_output_size(5, 2)               # floor: the 5th column is never pooled
    2
    >>> pool2d_output_size(5, 2, ceil_mode=True)   # ceil: a last window starts at column 4
    3
    >>> pool2d_output_size(5, 2, stride=2, padding=1, ceil_mode=True)
    3

    In the last example rounding up gives 4 windows starting (in padded coordinates) at 0, 2, 4
    and 6, but 6 >= size + padding = 6: that window would start in the right padding, so PyTorch
    drops it.
    """
    # TODO: Implement the rules above.
    # Hints:
    # - Replace a missing stride by kernel_size BEFORE validating and computing.
    # - For integers, ceil(a / b) == -(-a // b), or use math.ceil (it returns an int).
    # - Apply the last-window rule only in ceil_mode.
    # BEGIN SOLUTION
    if stride is None:
        stride = kernel_size
    for name, value in (("size", size), ("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {name}={value}")
    if padding < 0:
        raise ValueError(f"padding must be non-negative, got padding={padding}")
    span = size + 2 * padding - dilation * (kernel_size - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + padding:
            out -= 1  # the last window would start in the right padding: PyTorch drops it
    else:
        out = span // stride + 1
    if out < 1:
        raise ValueError(
            f"output size would be {out}: kernel_size={kernel_size} (dilation={dilation}) does not fit "
            f"in size={size} with padding={padding}"
        )
    return out
    # END SOLUTION


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    """Number of learnable parameters of ``nn.Conv2d``.

    Inputs:
    - in_channels: int, channels of the input, >= 1.
    - out_channels: int, number of filters (channels of the output), >= 1.
    - kernel_size: int, a square kernel's height (= width). (Accepting a (kh, kw) pair too is a
      nice extra; the grader only sends ints.)
    - bias: bool, whether each filter has a bias.
    - groups: int >= 1 that divides both in_channels and out_channels. The input channels are
      split into `groups` groups, and each filter only sees in_channels // groups of them.

    Returns:
    - count: int, the same as ``sum(p.numel() for p in nn.Conv2d(...).parameters())``:

          weight: out_channels x (in_channels // groups) x kernel_size x kernel_size
          bias:   out_channels   (only when bias=True)

    Raises:
    - ValueError, with a message naming `groups`, when groups does not divide in_channels or
      out_channels (PyTorch refuses those too).

    Examples:
    >>> conv2d_num_params(3, 6, 5)                # LeNet conv1: 6*3*5*5 + 6
    456
    >>> conv2d_num_params(3, 64, 3, bias=False)   # 64*3*3*3
    1728
    >>> conv2d_num_params(32, 32, 3, groups=32)   # depthwise: 32*1*3*3 + 32
    320
    """
    # TODO: Implement the count above.
    # Hints:
    # - One filter has (in_channels // groups) * kernel_size * kernel_size weights.
    # - There are out_channels filters, whatever `groups` is.
    # BEGIN SOLUTION
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("kernel_size", kh), ("kernel_size", kw), ("groups", groups)):
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {name}={value}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups={groups} must divide both in_channels={in_channels} and out_channels={out_channels}"
        )
    weights = out_channels * (in_channels // groups) * kh * kw
    return weights + (out_channels if bias else 0)
    # END SOLUTION


def linear_num_params(in_features, out_features, bias=True):
    """Number of learnable parameters of ``nn.Linear``.

    Inputs:
    - in_features: int, size of each input vector, >= 1.
    - out_features: int, size of each output vector, >= 1.
    - bias: bool, whether the layer has a bias vector.

    Returns:
    - count: int: a weight matrix of shape (out_features, in_features), plus out_features
      biases when bias=True; the same as ``sum(p.numel() for p in nn.Linear(...).parameters())``.

    Examples:
    >>> linear_num_params(400, 120)          # LeNet fc1 (16*5*5 = 400 inputs)
    48120
    >>> linear_num_params(84, 10, bias=False)
    840
    """
    # TODO: Implement the count above.
    # BEGIN SOLUTION
    for name, value in (("in_features", in_features), ("out_features", out_features)):
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {name}={value}")
    return in_features * out_features + (out_features if bias else 0)
    # END SOLUTION


def receptive_field(layers):
    """Receptive field of one output unit of a stack of conv / pool layers, along one dimension.

    Inputs:
    - layers: list of (kernel_size, stride) pairs of ints, first layer first, e.g.
      [(3, 1), (3, 1), (2, 2)] for two 3x3 convolutions then a 2x2 max pool. No padding or
      dilation: padding moves the field but does not change its size.

    Returns:
    - r: int, how many input pixels (along each side) one unit of the LAST layer depends on.
      Recurrence: start with r = 1 and jump = 1 (the distance, in input pixels, between
      neighbouring units of the current layer); then for each layer, in order:

          r    = r + (kernel_size - 1) * jump
          jump = jump * stride

      The grader also measures it directly: the extent of the gradient of one output unit with
      respect to the input of a stack of real nn.Conv2d layers.

    Examples:
    >>> receptive_field([(3, 1), (3, 1), (3, 1)])   # three 3x3 convs see 7x7, like one 7x7
    7
    >>> receptive_field([(3, 1), (3, 1), (2, 2), (3, 1)])  # the conv after the pool steps 2 pixels
    10
    """
    # TODO: Implement the recurrence above.
    # Hints:
    # - A layer's own stride only affects the layers after it: update r before jump.
    # BEGIN SOLUTION
    r, jump = 1, 1
    for i, (kernel_size, stride) in enumerate(layers):
        if kernel_size < 1:
            raise ValueError(f"layer {i}: kernel_size must be a positive integer, got {kernel_size}")
        if stride < 1:
            raise ValueError(f"layer {i}: stride must be a positive integer, got {stride}")
        r += (kernel_size - 1) * jump
        jump *= stride
    return r
    # END SOLUTION
