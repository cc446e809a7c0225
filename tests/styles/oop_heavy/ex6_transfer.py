"""Exercise 6 -- OOP student: a Freezer helper class and a head class of its own (an nn.Linear)."""
from torch import nn
from torchvision import models

FINETUNE_CHOICES = ("fc", "layer4")


class Freezer:
    def __init__(self, module: nn.Module):
        self.module = module

    def freeze(self):
        for p in self.module.parameters():
            p.requires_grad_(False)
        return self

    def unfreeze(self):
        for p in self.module.parameters():
            p.requires_grad_(True)
        return self


class Head(nn.Linear):
    """The new classification head: a fresh, trainable linear layer."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__(in_features, num_classes)


def resnet18_transfer(num_classes, weights=None, finetune="fc"):
    model = models.resnet18(weights=weights)
    if finetune not in FINETUNE_CHOICES:
        raise ValueError(f"unknown finetune={finetune!r}; choose from {FINETUNE_CHOICES}")
    Freezer(model).freeze()
    model.fc = Head(512, num_classes)
    if finetune == "layer4":
        Freezer(model.layer4).unfreeze()
    return model


def vgg16_transfer(num_classes, weights=None):
    model = models.vgg16(weights=weights)
    Freezer(model.features).freeze()
    model.classifier[6] = Head(4096, num_classes)
    return model


def trainable_parameters(model):
    seen = set()
    result = []
    for p in model.parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            result.append(p)
    return result
