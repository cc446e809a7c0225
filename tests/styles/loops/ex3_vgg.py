from collections import OrderedDict

import torch
from torch import nn

VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def make_features(config, in_channels=3, batch_norm=False):
    layers = []
    c = in_channels
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=(2, 2), stride=(2, 2)))
        else:
            layers.append(nn.Conv2d(c, v, kernel_size=(3, 3), padding=(1, 1)))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            c = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, classifier):
        super().__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x):
        out = self.features(x)
        out = out.reshape(out.size(0), -1)
        return self.classifier(out)


def vgg11(num_classes=10, dropout=0.5, batch_norm=False):
    classifier = nn.Sequential(OrderedDict([
        ("0", nn.Dropout(dropout)),
        ("1", nn.Linear(512, num_classes)),
    ]))
    return VGG(make_features(VGG_CONFIGS["vgg11"], batch_norm=batch_norm), classifier)


def vgg16(num_classes=10, dropout=0.5, batch_norm=False):
    classifier = nn.Sequential()
    classifier.add_module("0", nn.Linear(512, 4096))
    classifier.add_module("1", nn.ReLU(True))
    classifier.add_module("2", nn.Dropout(dropout))
    classifier.add_module("3", nn.Linear(4096, 4096))
    classifier.add_module("4", nn.ReLU(True))
    classifier.add_module("5", nn.Dropout(dropout))
    classifier.add_module("6", nn.Linear(4096, num_classes))
    return VGG(make_features(VGG_CONFIGS["vgg16"], batch_norm=batch_norm), classifier)
