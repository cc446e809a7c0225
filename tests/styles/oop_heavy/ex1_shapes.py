"""Exercise 1 -- OOP student: a dataclass describing a layer's geometry."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Window:
    size: int
    kernel_size: int
    stride: Optional[int] = 1
    padding: int = 0
    dilation: int = 1

    def __post_init__(self):
        if self.stride is None:
            object.__setattr__(self, "stride", self.kernel_size)
        for field_name in ("size", "kernel_size", "stride", "dilation"):
            value = getattr(self, field_name)
            if value < 1:
                raise ValueError(f"{field_name} must be a positive integer, got {field_name}={value}")
        if self.padding < 0:
            raise ValueError(f"padding must be non-negative, got padding={self.padding}")

    @property
    def extent(self) -> int:
        return self.dilation * (self.kernel_size - 1) + 1

    @property
    def span(self) -> int:
        return self.size + 2 * self.padding - self.extent

    def count(self, ceil_mode: bool = False) -> int:
        if ceil_mode:
            q, r = divmod(self.span, self.stride)
            out = q + (1 if r else 0) + 1
            last_start = (out - 1) * self.stride
            if last_start >= self.size + self.padding:
                out -= 1
        else:
            out = self.span // self.stride + 1
        if out < 1:
            raise ValueError(
                f"output size would be {out}: kernel_size={self.kernel_size} with "
                f"dilation={self.dilation} does not fit in size={self.size} + 2*padding={self.padding}"
            )
        return out


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return Window(size, kernel_size, stride, padding, dilation).count()


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    return Window(size, kernel_size, stride, padding, dilation).count(ceil_mode=ceil_mode)


@dataclass
class ConvSpec:
    in_channels: int
    out_channels: int
    kernel_size: int
    bias: bool = True
    groups: int = 1

    @property
    def num_params(self) -> int:
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(
                f"groups={self.groups} must divide in_channels={self.in_channels} "
                f"and out_channels={self.out_channels}"
            )
        per_filter = (self.in_channels // self.groups) * self.kernel_size ** 2
        return self.out_channels * per_filter + (self.out_channels if self.bias else 0)


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    return ConvSpec(in_channels, out_channels, kernel_size, bias, groups).num_params


def linear_num_params(in_features, out_features, bias=True):
    return ConvSpec(in_features, out_features, 1, bias).num_params


def receptive_field(layers):
    class _Tracker:
        def __init__(self):
            self.r, self.jump = 1, 1

        def push(self, k, s):
            self.r += (k - 1) * self.jump
            self.jump *= s
            return self

    tracker = _Tracker()
    for k, s in layers:
        tracker.push(k, s)
    return tracker.r
