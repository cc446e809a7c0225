import torch.nn as nn
from torchvision import models

FINETUNE_CHOICES = ("fc", "layer4")


def resnet18_transfer(num_classes, weights=None, finetune="fc"):
    net = models.resnet18(weights=weights)
    for child in net.children():
        for p in child.parameters():
            p.requires_grad_(False)
    if finetune == "layer4":
        for p in net.layer4.parameters():
            p.requires_grad_(True)
    elif finetune != "fc":
        raise ValueError(f"finetune={finetune!r} not in {FINETUNE_CHOICES}")
    net.fc = nn.Linear(net.fc.in_features, num_classes)
    return net


def vgg16_transfer(num_classes, weights=None):
    net = models.vgg16(weights=weights)
    for p in net.features.parameters():
        p.requires_grad = False
    net.classifier[6] = nn.Linear(4096, num_classes)
    return net


def trainable_parameters(model):
    return list(p for p in model.parameters() if p.requires_grad)
