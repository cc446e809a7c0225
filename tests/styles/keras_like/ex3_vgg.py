"""Exercise 3 -- keras style: layer factories keyed by name, classifier from a list of dicts."""
import torch
from torch import nn

VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}

_LAYER_FACTORY = {
    "conv": lambda c_in, c_out: nn.Conv2d(c_in, c_out, kernel_size=3, padding=1),
    "bn": lambda c_in, c_out: nn.BatchNorm2d(c_out),
    "relu": lambda c_in, c_out: nn.ReLU(inplace=True),
    "pool": lambda c_in, c_out: nn.MaxPool2d(kernel_size=2, stride=2),
}


def _block_recipe(entry, batch_norm):
    if entry == "M":
        return ["pool"]
    return ["conv", "bn", "relu"] if batch_norm else ["conv", "relu"]


def make_features(config, in_channels=3, batch_norm=False):
    layers = []
    channels = in_channels
    for entry in config:
        out_channels = channels if entry == "M" else int(entry)
        for kind in _block_recipe(entry, batch_norm):
            layers.append(_LAYER_FACTORY[kind](channels, out_channels))
        channels = out_channels
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = torch.flatten(x, start_dim=1)
        return self.classifier(x)


def _dense_stack(spec, num_classes, dropout):
    layers = []
    for layer in spec:
        kind = layer["type"]
        if kind == "dense":
            units = num_classes if layer["units"] == "classes" else layer["units"]
            layers.append(nn.Linear(layer["in"], units))
        elif kind == "relu":
            layers.append(nn.ReLU(inplace=True))
        elif kind == "dropout":
            layers.append(nn.Dropout(p=dropout))
    return nn.Sequential(*layers)


VGG11_HEAD = [{"type": "dropout"}, {"type": "dense", "in": 512, "units": "classes"}]
VGG16_HEAD = [
    {"type": "dense", "in": 512, "units": 4096},
    {"type": "relu"},
    {"type": "dropout"},
    {"type": "dense", "in": 4096, "units": 4096},
    {"type": "relu"},
    {"type": "dropout"},
    {"type": "dense", "in": 4096, "units": "classes"},
]


def vgg11(num_classes=10, dropout=0.5, batch_norm=False):
    return VGG(make_features(VGG_CONFIGS["vgg11"], batch_norm=batch_norm),
               _dense_stack(VGG11_HEAD, num_classes, dropout))


def vgg16(num_classes=10, dropout=0.5, batch_norm=False):
    return VGG(make_features(VGG_CONFIGS["vgg16"], batch_norm=batch_norm),
               _dense_stack(VGG16_HEAD, num_classes, dropout))
