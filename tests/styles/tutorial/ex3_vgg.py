import torch
import torch.nn as nn

VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def make_features(config, in_channels=3, batch_norm=False):
    features = nn.Sequential()
    for item in config:
        if item == "M":
            features.add_module(str(len(features)), nn.MaxPool2d(kernel_size=2, stride=2, padding=0))
            continue
        features.add_module(str(len(features)), nn.Conv2d(in_channels, item, kernel_size=3, padding=1))
        if batch_norm:
            features.add_module(str(len(features)), nn.BatchNorm2d(item, eps=1e-5, momentum=0.1))
        features.add_module(str(len(features)), nn.ReLU(inplace=True))
        in_channels = item
    return features


class VGG(nn.Module):
    def __init__(self, features, classifier):
        super().__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x):
        x = self.features(x)
        x = torch.reshape(x, (x.shape[0], -1))
        x = self.classifier(x)
        return x


def _init_weights(model):
    # torchvision-style initialisation, applied by the builders
    for m in model.modules():
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
    return model


def vgg11(num_classes=10, dropout=0.5, batch_norm=False):
    features = make_features(VGG_CONFIGS["vgg11"], batch_norm=batch_norm)
    classifier = nn.Sequential()
    classifier.append(nn.Dropout(dropout))
    classifier.append(nn.Linear(512, num_classes))
    return _init_weights(VGG(features, classifier))


def vgg16(num_classes=10, dropout=0.5, batch_norm=False):
    features = make_features(VGG_CONFIGS["vgg16"], batch_norm=batch_norm)
    classifier = nn.Sequential(
        nn.Linear(512 * 1 * 1, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
        nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
        nn.Linear(4096, num_classes),
    )
    return _init_weights(VGG(features, classifier))
