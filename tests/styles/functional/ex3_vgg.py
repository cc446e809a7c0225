import torch
import torch.nn as nn
import torch.nn.functional as F

VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def _conv_block(c_in, c_out, batch_norm):
    block = [nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1, bias=True)]
    if batch_norm:
        block.append(nn.BatchNorm2d(c_out))
    return block + [nn.ReLU()]


def make_features(config, in_channels=3, batch_norm=False):
    channels = [in_channels] + [v for v in config if v != "M"]
    convs = iter(zip(channels[:-1], channels[1:]))
    layers = [layer
              for v in config
              for layer in ([nn.MaxPool2d(2, 2)] if v == "M" else _conv_block(*next(convs), batch_norm))]
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, classifier):
        super().__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x):
        return self.classifier(self.features(x).flatten(start_dim=1))


def vgg11(num_classes=10, dropout=0.5, batch_norm=False):
    return VGG(
        features=make_features(VGG_CONFIGS["vgg11"], in_channels=3, batch_norm=batch_norm),
        classifier=nn.Sequential(nn.Dropout(p=dropout), nn.Linear(512, num_classes)),
    )


def vgg16(num_classes=10, dropout=0.5, batch_norm=False):
    hidden = 4096
    layers = []
    for fan_in in (512, hidden):
        layers.extend([nn.Linear(fan_in, hidden), nn.ReLU(), nn.Dropout(dropout)])
    layers.append(nn.Linear(hidden, num_classes))
    return VGG(make_features(VGG_CONFIGS["vgg16"], batch_norm=batch_norm), nn.Sequential(*layers))
