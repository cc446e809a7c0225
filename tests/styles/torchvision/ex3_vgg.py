import torch
import torch.nn as nn

VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def make_features(config, in_channels=3, batch_norm=False):
    layers = []
    for v in config:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            if batch_norm:
                layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            else:
                layers += [conv2d, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """As torchvision's VGG: initialises the weights of the parts it is given."""

    def __init__(self, features, classifier, init_weights=True):
        super().__init__()
        self.features = features
        self.classifier = classifier
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        x = self.classifier(x)
        return x


def vgg11(num_classes=10, dropout=0.5, batch_norm=False):
    return VGG(make_features(VGG_CONFIGS["vgg11"], batch_norm=batch_norm),
               nn.Sequential(nn.Dropout(p=dropout), nn.Linear(512, num_classes)))


def vgg16(num_classes=10, dropout=0.5, batch_norm=False):
    return VGG(make_features(VGG_CONFIGS["vgg16"], batch_norm=batch_norm),
               nn.Sequential(nn.Linear(512, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
                             nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
                             nn.Linear(4096, num_classes)))
