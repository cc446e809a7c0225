import torch.nn as nn
from torchvision import models

FINETUNE_CHOICES = ("fc", "layer4")


def resnet18_transfer(num_classes, weights=None, finetune="fc"):
    if finetune not in FINETUNE_CHOICES:
        raise ValueError(f"finetune must be one of {FINETUNE_CHOICES}")
    model = models.resnet18(weights=weights)
    model.fc = nn.Linear(512, num_classes)
    for name, param in model.named_parameters():
        if name.startswith("fc."):
            continue
        if finetune == "layer4" and name.startswith("layer4."):
            continue
        param.requires_grad = False
    return model


def vgg16_transfer(num_classes, weights=None):
    model = models.vgg16(weights=weights)
    for param in model.features.parameters():
        param.requires_grad = False
    model.classifier[6] = nn.Linear(4096, num_classes)
    return model


def trainable_parameters(model):
    return [*filter(lambda p: p.requires_grad, model.parameters())]
