"""Exercise 5 -- OOP student: a small Meter class, set_to_none, inference_mode, .max(1)[1]."""
import math
from dataclasses import dataclass

import torch
from torch import nn
from torchvision import transforms

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def cifar10_transforms(train: bool) -> transforms.Compose:
    normalize = transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD)
    if train:
        return transforms.Compose([
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            normalize,
        ])
    return transforms.Compose([transforms.ToTensor(), normalize])


@dataclass
class AverageMeter:
    total: float = 0.0
    count: int = 0

    def update(self, value: float, n: int) -> None:
        self.total += value * n
        self.count += n

    @property
    def average(self) -> float:
        return self.total / self.count if self.count else 0.0


def train_one_epoch(model, loader, criterion, optimizer, device="cpu"):
    model.train()
    meter = AverageMeter()
    for inputs, labels in loader:
        optimizer.zero_grad(set_to_none=True)
        inputs = inputs.to(device)
        labels = labels.to(device)
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
        meter.update(loss.item(), inputs.size(0))
    return meter.average


@torch.inference_mode()
def evaluate(model, loader, device="cpu"):
    model.eval()
    correct = total = 0
    for inputs, labels in loader:
        predicted = model(inputs.to(device)).max(1)[1]
        correct += (predicted == labels.to(device)).sum().item()
        total += labels.size(0)
    return correct / total


def cosine_lr(base_lr, epoch, total_epochs):
    return 0.5 * base_lr * (1 + math.cos(math.pi * epoch / total_epochs))


def save_checkpoint(model, path):
    torch.save(model.state_dict(), path)


def load_checkpoint(model, path):
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model
