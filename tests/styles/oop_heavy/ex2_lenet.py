"""Exercise 2 -- OOP student: a config dataclass and a property for the flat size."""
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class LeNetConfig:
    in_channels: int = 3
    image_size: int = 32
    conv_channels: tuple = (6, 16)
    hidden: tuple = (120, 84)


class Net(nn.Module):
    def __init__(self, num_classes: int = 10, config: LeNetConfig = None) -> None:
        nn.Module.__init__(self)
        self.config = config or LeNetConfig()
        c1, c2 = self.config.conv_channels
        h1, h2 = self.config.hidden
        self.conv1 = nn.Conv2d(self.config.in_channels, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.act = nn.ReLU()
        self.fc1 = nn.Linear(self.flat_features, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.fc3 = nn.Linear(h2, num_classes)

    @property
    def flat_features(self) -> int:
        side = self.config.image_size // 4
        return self.config.conv_channels[-1] * side * side

    @property
    def num_classes(self) -> int:
        return self.fc3.out_features

    def extract(self, x):
        for conv in (self.conv1, self.conv2):
            x = self.pool(self.act(conv(x)))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.extract(x)
        x = x.reshape(x.shape[0], self.flat_features)
        x = self.act(self.fc1(x))
        x = self.act(self.fc2(x))
        return self.fc3(x)
