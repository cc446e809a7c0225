import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """Written after the PyTorch '60 minute blitz' tutorial."""

    def __init__(self, num_classes=10):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.conv2 = nn.Conv2d(6, 16, 3, padding=1)
        # work out the flattened size with a dummy forward instead of by hand
        with torch.no_grad():
            dummy = self._features(torch.zeros(1, 3, 32, 32))
        self.fc1 = nn.Linear(dummy.numel(), 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def _features(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        return x

    def num_flat_features(self, x):
        size = x.size()[1:]
        num_features = 1
        for s in size:
            num_features *= s
        return num_features

    def forward(self, x):
        x = self._features(x)
        x = x.view(-1, self.num_flat_features(x))
        x = F.relu(self.fc1(x), inplace=True)
        x = F.relu(self.fc2(x), inplace=True)
        x = self.fc3(x)
        return x
