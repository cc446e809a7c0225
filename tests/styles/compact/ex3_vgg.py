import torch
import torch.nn as nn

VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def make_features(config, in_channels=3, batch_norm=False):
    layers = []
    for v in config:
        if isinstance(v, int):
            layers += [nn.Conv2d(in_channels, v, 3, padding=1), nn.ReLU(inplace=True)]
            if batch_norm:
                layers.insert(-1, nn.BatchNorm2d(v))
            in_channels = v
        else:
            layers += [nn.MaxPool2d(2)]
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, classifier):
        super().__init__()
        self.features, self.classifier = features, classifier

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


def vgg11(num_classes=10, dropout=0.5, batch_norm=False):
    model = VGG(make_features(VGG_CONFIGS["vgg11"], batch_norm=batch_norm),
                nn.Sequential(nn.Dropout(p=dropout, inplace=False), nn.Linear(512, num_classes)))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.constant_(m.bias, 0.0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def vgg16(num_classes=10, dropout=0.5, batch_norm=False):
    return VGG(make_features(VGG_CONFIGS["vgg16"], 3, batch_norm),
               nn.Sequential(*[nn.Linear(512, 4096), nn.ReLU(), nn.Dropout(dropout),
                               nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
                               nn.Linear(4096, num_classes)]))
