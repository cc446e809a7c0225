"""Exercise 3 -- numpy student: index arithmetic, list extend, classifier by positions."""
import torch
from torch import nn

VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def make_features(config, in_channels=3, batch_norm=False):
    widths = [in_channels] + [v for v in config if v != "M"]
    layers = []
    i = 0
    for v in config:
        if isinstance(v, str):
            layers.append(nn.MaxPool2d(2, 2))
            continue
        conv = nn.Conv2d(widths[i], widths[i + 1], 3, 1, 1)
        layers.extend([conv, nn.BatchNorm2d(widths[i + 1]), nn.ReLU()] if batch_norm else [conv, nn.ReLU()])
        i += 1
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, classifier):
        super().__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x):
        f = self.features(x)
        return self.classifier(f.reshape(f.shape[0], -1))


def vgg11(num_classes=10, dropout=0.5, batch_norm=False):
    features = make_features(VGG_CONFIGS["vgg11"], 3, batch_norm)
    classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(512, num_classes))
    return VGG(features, classifier)


def vgg16(num_classes=10, dropout=0.5, batch_norm=False):
    features = make_features(VGG_CONFIGS["vgg16"], 3, batch_norm)
    dims = [512, 4096, 4096, num_classes]
    layers = []
    for k in range(len(dims) - 1):
        layers.append(nn.Linear(dims[k], dims[k + 1]))
        if k < len(dims) - 2:
            layers += [nn.ReLU(True), nn.Dropout(dropout)]
    return VGG(features, nn.Sequential(*layers))
