from torch import nn
from torchvision import models

FINETUNE_CHOICES = ("fc", "layer4")


def resnet18_transfer(num_classes, weights=None, finetune="fc"):
    if finetune not in FINETUNE_CHOICES:
        raise ValueError(f"finetune must be 'fc' or 'layer4', not {finetune!r}")
    model = models.resnet18(weights=weights)
    model.requires_grad_(False)
    if finetune == "layer4":
        model.layer4.requires_grad_(True)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def vgg16_transfer(num_classes, weights=None):
    model = models.vgg16(weights=weights)
    model.features.requires_grad_(False)
    in_features = model.classifier[6].in_features
    model.classifier[6] = nn.Linear(in_features, num_classes)
    return model


def trainable_parameters(model):
    params = []
    for p in model.parameters():
        if p.requires_grad:
            params.append(p)
    return params
