"""Exercise 2, as a careful student might write it (correct, in a different style from the
reference: nn.ReLU module, functional max pooling, x.view flattening)."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels=3, out_channels=6, kernel_size=(3, 3), stride=1, padding=1)
        self.conv2 = nn.Conv2d(in_channels=6, out_channels=16, kernel_size=(3, 3), stride=1, padding=1)
        self.fc1 = nn.Linear(1024, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        x = F.max_pool2d(self.relu(self.conv1(x)), kernel_size=2)   # (N, 6, 16, 16)
        x = F.max_pool2d(self.relu(self.conv2(x)), kernel_size=2)   # (N, 16, 8, 8)
        x = x.view(x.size(0), -1)                                   # (N, 1024)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)
