import torch
from torch import nn
from torch.nn import functional as F


class Net(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, kernel_size=3, stride=1, padding=1, bias=True)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=3, stride=1, padding=1, bias=True)
        self.fc1 = nn.Linear(16 * 8 * 8, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in (self.conv1, self.conv2):
            x = F.max_pool2d(self.act(conv(x)), kernel_size=(2, 2), stride=(2, 2))
        x = x.reshape(x.shape[0], -1)
        for fc in (self.fc1, self.fc2):
            x = self.act(fc(x))
        return self.fc3(x)
