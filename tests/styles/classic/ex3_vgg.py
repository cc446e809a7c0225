import torch
from torch import nn
import torch.nn.functional as F

VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def make_features(config, in_channels=3, batch_norm=False):
    layers = []
    prev = in_channels
    for v in config:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv = nn.Conv2d(prev, v, kernel_size=3, padding=1)
            if batch_norm:
                layers += [conv, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            else:
                layers += [conv, nn.ReLU(inplace=True)]
            prev = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, classifier):
        super(VGG, self).__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, start_dim=1)
        return self.classifier(x)


def vgg11(num_classes=10, dropout=0.5, batch_norm=False):
    features = make_features(VGG_CONFIGS["vgg11"], in_channels=3, batch_norm=batch_norm)
    classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(512, num_classes))
    return VGG(features, classifier)


def vgg16(num_classes=10, dropout=0.5, batch_norm=False):
    features = make_features(VGG_CONFIGS["vgg16"], in_channels=3, batch_norm=batch_norm)
    classifier = nn.Sequential(
        nn.Linear(512, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
        nn.Linear(4096, num_classes),
    )
    return VGG(features, classifier)
