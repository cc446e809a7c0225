"""Exercise 2 -- keras style: a spec list, layers registered by name, functional forward."""
import torch
import torch.nn.functional as F
from torch import nn

CONV_SPECS = [
    {"name": "conv1", "in": 3, "out": 6},
    {"name": "conv2", "in": 6, "out": 16},
]
DENSE_SPECS = [
    {"name": "fc1", "units": 120, "activation": "relu"},
    {"name": "fc2", "units": 84, "activation": "relu"},
    {"name": "fc3", "units": None, "activation": None},  # None: num_classes
]


class Net(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super(Net, self).__init__()
        for spec in CONV_SPECS:
            self.register_module(spec["name"], nn.Conv2d(spec["in"], spec["out"], kernel_size=3, padding=1))
        in_features = 16 * 8 * 8
        self._dense_order = []
        for spec in DENSE_SPECS:
            units = spec["units"] if spec["units"] is not None else num_classes
            self.register_module(spec["name"], nn.Linear(in_features, units))
            self._dense_order.append((spec["name"], spec["activation"]))
            in_features = units

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for spec in CONV_SPECS:
            x = F.relu(getattr(self, spec["name"])(x))
            x = F.max_pool2d(x, kernel_size=2, stride=2)
        x = torch.flatten(x, start_dim=1)
        for name, activation in self._dense_order:
            x = getattr(self, name)(x)
            if activation == "relu":
                x = F.relu(x)
        return x
