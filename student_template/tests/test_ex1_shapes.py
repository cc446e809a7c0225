"""Public tests for exercise 1 (ex1_shapes.py): the lecture's worked examples. 5 points.

Run them with ``grade check ex1``. Passing these does not mean the hidden tests pass: those
compare your functions with PyTorch's own layers on many random inputs (strides, padding,
dilation, ceil_mode, groups, bias) and check that invalid arguments raise ValueError.
"""

import pytest

pytestmark = pytest.mark.exercise("ex1")


def _check(got, expected: int, call: str, why: str = "") -> None:
    """``got`` is ``expected``, as a Python int (the handout's rule for every count and size)."""
    assert got is not None, f"{call} returned None: is a `return` missing?"
    assert got == expected, f"{call} returned {got!r}, expected {expected}{why}"
    assert isinstance(got, int) and not isinstance(got, bool), (
        f"{call} returned {got!r}, a {type(got).__name__}: return a Python int (sizes and counts are whole "
        "numbers: divide with //, not /)")


@pytest.mark.points(1)
def test_conv2d_output_size_lecture_examples(student):
    shapes = student.ex1_shapes
    _check(shapes.conv2d_output_size(7, 3), 5, "conv2d_output_size(7, 3)", ": a 3x3 filter fits in 5 positions of 7.")
    _check(shapes.conv2d_output_size(7, 3, stride=2), 3, "conv2d_output_size(7, 3, stride=2)",
           ": the filter starts at 0, 2 and 4; out = floor((size + 2*padding - dilation*(kernel_size - 1) - 1) "
           "/ stride) + 1.")
    _check(shapes.conv2d_output_size(227, 11, stride=4), 55, "conv2d_output_size(227, 11, stride=4)",
           " (AlexNet conv1).")
    _check(shapes.conv2d_output_size(32, 3, padding=1), 32, "conv2d_output_size(32, 3, padding=1)",
           ": padding is added on both sides.")


@pytest.mark.points(1)
def test_pool2d_output_size_lecture_examples(student):
    shapes = student.ex1_shapes
    _check(shapes.pool2d_output_size(55, 3, stride=2), 27, "pool2d_output_size(55, 3, stride=2)", " (AlexNet pool1).")
    size = 224
    for expected in (112, 56, 28, 14, 7):  # VGG16's five 2x2 pools; stride defaults to kernel_size
        got = shapes.pool2d_output_size(size, 2)
        _check(got, expected, f"pool2d_output_size({size}, 2)",
               ": when stride is not given it defaults to kernel_size (VGG16: 224 -> 112 -> 56 -> 28 -> 14 -> 7).")
        size = got


@pytest.mark.points(1)
def test_conv2d_num_params_lenet(student):
    shapes = student.ex1_shapes
    _check(shapes.conv2d_num_params(3, 6, 5), 456, "conv2d_num_params(3, 6, 5)",
           " (LeNet conv1): 6 filters of 3x5x5 weights plus 6 biases.")
    _check(shapes.conv2d_num_params(3, 6, 5, bias=False), 450, "conv2d_num_params(3, 6, 5, bias=False)",
           ": no biases.")


@pytest.mark.points(1)
def test_linear_num_params_lenet(student):
    _check(student.ex1_shapes.linear_num_params(400, 120), 48120, "linear_num_params(400, 120)",
           " (LeNet fc1): a 120x400 weight matrix plus 120 biases.")


@pytest.mark.points(1)
def test_receptive_field_three_3x3(student):
    _check(student.ex1_shapes.receptive_field([(3, 1), (3, 1), (3, 1)]), 7, "receptive_field([(3, 1), (3, 1), (3, 1)])",
           ": each 3x3 layer adds 2 pixels to the 1-pixel field (1 + 2 + 2 + 2).")
