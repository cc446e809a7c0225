"""Exercise 6 -- keras style: `layer.trainable = False` translated to a set_trainable helper."""
from torch import nn
from torchvision import models

FINETUNE_CHOICES = ("fc", "layer4")


def set_trainable(module: nn.Module, trainable: bool) -> None:
    for param in module.parameters():
        param.requires_grad = trainable


def resnet18_transfer(num_classes, weights=None, finetune="fc"):
    if finetune not in FINETUNE_CHOICES:
        raise ValueError(f"finetune must be one of {FINETUNE_CHOICES}, got finetune={finetune!r}")
    model = models.resnet18(weights=weights)
    set_trainable(model, False)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    if finetune == "layer4":
        set_trainable(model.layer4, True)
    return model


def vgg16_transfer(num_classes, weights=None):
    model = models.vgg16(weights=weights)
    set_trainable(model.features, False)
    model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, num_classes)
    return model


def trainable_parameters(model):
    return [param for param in model.parameters() if param.requires_grad]
