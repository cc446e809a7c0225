import torch.nn as nn
import torchvision

FINETUNE_CHOICES = ("fc", "layer4")


def resnet18_transfer(num_classes, weights=None, finetune="fc"):
    if finetune not in FINETUNE_CHOICES:
        raise ValueError("finetune should be 'fc' or 'layer4'")
    model = torchvision.models.resnet18(weights=weights)
    for param in model.parameters():
        param.requires_grad_(False)
    if finetune == "layer4":
        for name, param in model.named_parameters():
            if name.startswith("layer4"):
                param.requires_grad = True
    num_ftrs = model.fc.in_features
    model.fc = nn.Linear(num_ftrs, num_classes, bias=True)
    return model


def vgg16_transfer(num_classes, weights=None):
    model = torchvision.models.vgg16(weights=weights)
    model.features.requires_grad_(False)
    for param in model.classifier.parameters():
        param.requires_grad = True
    model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, num_classes)
    return model


def trainable_parameters(model):
    unique = {id(p): p for p in model.parameters() if p.requires_grad}
    return list(unique.values())
