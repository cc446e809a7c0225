import torch.nn as nn
import torchvision


def resnet18_transfer(num_classes, weights=None, finetune="fc"):
    model = torchvision.models.resnet18(weights=weights)
    for name, p in model.named_parameters():
        p.requires_grad = False
    if finetune == "layer4":
        for p in model.layer4.parameters():
            p.requires_grad = True
    elif finetune != "fc":
        raise ValueError("bad finetune")
    model.fc = nn.Linear(512, num_classes)
    return model


def vgg16_transfer(num_classes, weights=None):
    model = torchvision.models.vgg16(weights=weights)
    for p in model.features.parameters():
        p.requires_grad_(False)
    model.classifier[-1] = nn.Linear(4096, num_classes)
    return model


def trainable_parameters(model):
    return list(filter(lambda p: p.requires_grad, model.parameters()))
