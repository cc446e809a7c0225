"""LeNet-style convolutional network for 32x32 colour images (CIFAR-10).

Reference:
    Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. "Gradient-based learning applied to document
    recognition." Proceedings of the IEEE 86(11):2278-2324, 1998.

This is LeNet-5's layout (two convolution + sub-sampling stages, then three fully connected
layers) with the changes every modern course makes: 3x3 convolutions with padding 1, so that a
convolution keeps the spatial size and only the 2x2 max-pools halve it; ReLU instead of the
paper's scaled tanh; max pooling instead of the paper's trainable sub-sampling. For a batch of
shape (N, 3, 32, 32):

    conv1 -> ReLU   (N, 6, 32, 32)
    max-pool 2x2    (N, 6, 16, 16)
    conv2 -> ReLU   (N, 16, 16, 16)
    max-pool 2x2    (N, 16, 8, 8)
    flatten         (N, 1024)
    fc1 -> ReLU     (N, 120)
    fc2 -> ReLU     (N, 84)
    fc3             (N, num_classes)   logits: no softmax, the loss applies it

135,062 trainable parameters for 10 classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Net"]


class Net(nn.Module):
    """LeNet-style classifier for (N, 3, 32, 32) images; returns (N, num_classes) logits."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        # BEGIN SOLUTION
        self.conv1 = nn.Conv2d(3, 6, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(16 * 8 * 8, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x
        # END SOLUTION
