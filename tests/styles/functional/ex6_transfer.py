import torch.nn as nn
from torchvision.models import resnet18, vgg16

FINETUNE_CHOICES = ("fc", "layer4")


def resnet18_transfer(num_classes, weights=None, finetune="fc"):
    model = resnet18(weights=weights)
    if finetune not in FINETUNE_CHOICES:
        raise ValueError(f"unknown finetune={finetune!r}; choose from {FINETUNE_CHOICES}")
    # replace the head first, then freeze everything that is not trainable
    model.fc = nn.Linear(512, num_classes)
    trainable_prefixes = ("fc.",) if finetune == "fc" else ("fc.", "layer4.")
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith(trainable_prefixes)
    return model


def vgg16_transfer(num_classes, weights=None):
    model = vgg16(weights=weights)
    for name, param in model.named_parameters():
        if name.startswith("features"):
            param.requires_grad_(False)
    model.classifier[-1] = nn.Linear(4096, num_classes)
    return model


def trainable_parameters(model):
    return [param for _, param in model.named_parameters() if param.requires_grad]
