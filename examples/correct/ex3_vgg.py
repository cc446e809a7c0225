"""Alternative style 1: recursion-free comprehension, ReLU not in place, nn.Flatten in VGG, padding='same',
shared pool module, MaxPool2d(2) default stride, x.view flatten."""
import torch
from torch import nn
import torch.nn.functional as F

VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def make_features(config, in_channels=3, batch_norm=False):
    pool = nn.MaxPool2d(2)
    relu = nn.ReLU()
    seq = nn.Sequential()
    c = in_channels
    for v in config:
        if isinstance(v, str):
            seq.append(pool)
            continue
        seq.append(nn.Conv2d(c, v, (3, 3), stride=1, padding="same"))
        if batch_norm:
            seq.append(nn.BatchNorm2d(num_features=v))
        seq.append(relu)
        c = v
    return seq


class VGG(nn.Module):
    def __init__(self, features, classifier):
        super().__init__()
        self.features, self.classifier = features, classifier
        self.flatten = nn.Flatten()

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


def vgg11(num_classes=10, dropout=0.5, batch_norm=False):
    return VGG(make_features(VGG_CONFIGS["vgg11"], 3, batch_norm),
               nn.Sequential(nn.Dropout(dropout), nn.Linear(512, num_classes)))


def vgg16(num_classes=10, dropout=0.5, batch_norm=False):
    layers = []
    dims = [512, 4096, 4096]
    for a, b in zip(dims, dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU(True), nn.Dropout(p=dropout)]
    layers.append(nn.Linear(4096, num_classes))
    net = VGG(make_features(VGG_CONFIGS["vgg16"], batch_norm=batch_norm), nn.Sequential(*layers))
    # torchvision-style initialisation: any init is fine
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
    return net
