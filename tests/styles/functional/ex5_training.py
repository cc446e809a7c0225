import math

import torch
import torch.nn as nn
import torchvision.transforms as T

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def cifar10_transforms(train):
    steps = [T.ToTensor(), T.Normalize(mean=CIFAR10_MEAN, std=CIFAR10_STD)]
    if train:
        steps = [T.RandomCrop(size=32, padding=4), T.RandomHorizontalFlip(p=0.5)] + steps
    return T.Compose(steps)


def train_one_epoch(model, loader, criterion, optimizer, device="cpu"):
    model.train()
    running_loss = 0.0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        running_loss += loss.item() * inputs.size(0)
    return running_loss / len(loader.dataset)


def evaluate(model, loader, device="cpu"):
    model.eval()
    correct = total = 0
    with torch.inference_mode():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            predicted = torch.argmax(model(inputs), dim=1)
            correct += (predicted == targets).sum().item()
            total += targets.size(0)
    return float(correct) / total


def cosine_lr(base_lr, epoch, total_epochs):
    return base_lr / 2 * (1 + math.cos(epoch / total_epochs * math.pi))


def save_checkpoint(model, path):
    # move everything to the CPU so the file loads anywhere
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)


def load_checkpoint(model, path):
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model
