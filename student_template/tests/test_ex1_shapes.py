"""Public tests for exercise 1 (ex1_shapes.py): the lecture's worked examples. 5 points.

Run them with ``grade check ex1``. Passing these does not mean the hidden tests pass: those
compare your functions with PyTorch's own layers on many random inputs (strides, padding,
dilation, ceil_mode, groups, bias) and check that invalid arguments raise ValueError.
"""

import pytest

pytestmark = pytest.mark.exercise("ex1")


@pytest.mark.points(1)
def test_conv2d_output_size_lecture_examples(student):
    shapes = student.ex1_shapes
    got = shapes.conv2d_output_size(7, 3)
    assert got == 5, f"conv2d_output_size(7, 3) returned {got!r}, expected 5: a 3x3 filter fits in 5 positions of 7."
    got = shapes.conv2d_output_size(7, 3, stride=2)
    assert got == 3, (
        f"conv2d_output_size(7, 3, stride=2) returned {got!r}, expected 3: the filter starts at 0, 2 and 4; "
        f"out = floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1."
    )
    got = shapes.conv2d_output_size(227, 11, stride=4)
    assert got == 55, f"conv2d_output_size(227, 11, stride=4) returned {got!r}, expected 55 (AlexNet conv1)."
    got = shapes.conv2d_output_size(32, 3, padding=1)
    assert got == 32, (
        f"conv2d_output_size(32, 3, padding=1) returned {got!r}, expected 32: padding is added on both sides."
    )


@pytest.mark.points(1)
def test_pool2d_output_size_lecture_examples(student):
    shapes = student.ex1_shapes
    got = shapes.pool2d_output_size(55, 3, stride=2)
    assert got == 27, f"pool2d_output_size(55, 3, stride=2) returned {got!r}, expected 27 (AlexNet pool1)."
    size = 224
    for expected in (112, 56, 28, 14, 7):  # VGG16's five 2x2 pools; stride defaults to kernel_size
        got = shapes.pool2d_output_size(size, 2)
        assert got == expected, (
            f"pool2d_output_size({size}, 2) returned {got!r}, expected {expected}: "
            f"when stride is not given it defaults to kernel_size (VGG16: 224 -> 112 -> 56 -> 28 -> 14 -> 7)."
        )
        size = got


@pytest.mark.points(1)
def test_conv2d_num_params_lenet(student):
    shapes = student.ex1_shapes
    got = shapes.conv2d_num_params(3, 6, 5)
    assert got == 456, (
        f"conv2d_num_params(3, 6, 5) returned {got!r}, expected 456 (LeNet conv1): "
        f"6 filters of 3x5x5 weights plus 6 biases."
    )
    got = shapes.conv2d_num_params(3, 6, 5, bias=False)
    assert got == 450, f"conv2d_num_params(3, 6, 5, bias=False) returned {got!r}, expected 450: no biases."


@pytest.mark.points(1)
def test_linear_num_params_lenet(student):
    got = student.ex1_shapes.linear_num_params(400, 120)
    assert got == 48120, (
        f"linear_num_params(400, 120) returned {got!r}, expected 48120 (LeNet fc1): "
        f"a 120x400 weight matrix plus 120 biases."
    )


@pytest.mark.points(1)
def test_receptive_field_three_3x3(student):
    got = student.ex1_shapes.receptive_field([(3, 1), (3, 1), (3, 1)])
    assert got == 7, (
        f"receptive_field([(3, 1), (3, 1), (3, 1)]) returned {got!r}, expected 7: "
        f"each 3x3 layer adds 2 pixels to the 1-pixel field (1 + 2 + 2 + 2)."
    )
