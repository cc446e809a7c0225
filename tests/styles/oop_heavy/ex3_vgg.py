"""Exercise 3 -- OOP student: nn.Sequential subclasses, forward as a loop over children."""
import torch
from torch import nn

VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


class FeatureStack(nn.Sequential):
    """A flat Sequential built from a configuration list."""

    def __init__(self, config, in_channels=3, batch_norm=False):
        super().__init__()
        channels = in_channels
        for entry in config:
            if entry == "M":
                self.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            self.append(nn.Conv2d(channels, entry, kernel_size=3, padding=1))
            if batch_norm:
                self.append(nn.BatchNorm2d(entry))
            self.append(nn.ReLU(inplace=True))
            channels = entry
        self.out_channels = channels


def make_features(config, in_channels=3, batch_norm=False):
    return FeatureStack(config, in_channels=in_channels, batch_norm=batch_norm)


class Classifier(nn.Sequential):
    def __init__(self, in_features, hidden, num_classes, dropout):
        layers = []
        width = in_features
        for units in hidden:
            layers += [nn.Linear(width, units), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = units
        if not hidden:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)


class VGG(nn.Module):
    def __init__(self, features: nn.Module, classifier: nn.Module) -> None:
        super(VGG, self).__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name, child in self.named_children():
            if name == "classifier":
                x = x.flatten(1)
            x = child(x)
        return x


def vgg11(num_classes=10, dropout=0.5, batch_norm=False):
    return VGG(make_features(VGG_CONFIGS["vgg11"], batch_norm=batch_norm),
               Classifier(512, [], num_classes, dropout))


def vgg16(num_classes=10, dropout=0.5, batch_norm=False):
    return VGG(make_features(VGG_CONFIGS["vgg16"], batch_norm=batch_norm),
               Classifier(512, [4096, 4096], num_classes, dropout))
