"""Exercise 6 -- numpy student: requires_grad_(False) on everything, unfreezing by name prefix."""
from torch import nn
from torchvision import models

FINETUNE_CHOICES = ("fc", "layer4")


def resnet18_transfer(num_classes, weights=None, finetune="fc"):
    if finetune not in FINETUNE_CHOICES:
        raise ValueError("finetune must be 'fc' or 'layer4', got finetune=%r" % (finetune,))
    model = models.resnet18(weights=weights)
    model.fc = nn.Linear(512, num_classes)
    prefixes = ("fc.",) if finetune == "fc" else ("fc.", "layer4.")
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith(prefixes)
    return model


def vgg16_transfer(num_classes, weights=None):
    model = models.vgg16(weights=weights)
    model.requires_grad_(False)
    model.classifier[6] = nn.Linear(4096, num_classes)
    model.classifier.requires_grad_(True)
    return model


def trainable_parameters(model):
    return list(filter(lambda p: p.requires_grad, model.parameters()))
