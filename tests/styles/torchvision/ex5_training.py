"""Exercise 5 in the style of torchvision's reference scripts (see README.md): evaluate restores the
mode the model came in and counts hits in a tensor."""

from __future__ import annotations
import math
from typing import Iterable
import torch
from torch import nn
from torchvision import transforms
__all__ = ['CIFAR10_MEAN', 'CIFAR10_STD', 'cifar10_transforms', 'train_one_epoch', 'evaluate', 'cosine_lr', 'save_checkpoint', 'load_checkpoint']
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.247, 0.2435, 0.2616)

def cifar10_transforms(train: bool) -> transforms.Compose:
    to_normalized_tensor = [transforms.ToTensor(), transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD)]
    if train:
        augment = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()]
        return transforms.Compose(augment + to_normalized_tensor)
    return transforms.Compose(to_normalized_tensor)

def train_one_epoch(model: nn.Module, loader: Iterable, criterion: nn.Module, optimizer: torch.optim.Optimizer, device: str | torch.device='cpu') -> float:
    model.train()
    total_loss, total_samples = (0.0, 0)
    for inputs, labels in loader:
        inputs, labels = (inputs.to(device), labels.to(device))
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * inputs.size(0)
        total_samples += inputs.size(0)
    return total_loss / total_samples

def evaluate(model: nn.Module, loader: Iterable, device: str | torch.device='cpu') -> float:
    was_training = model.training
    model.eval()
    hits = torch.zeros((), dtype=torch.long)
    total = 0
    with torch.no_grad():
        for inputs, labels in loader:
            inputs, labels = (inputs.to(device), labels.to(device))
            hits += (model(inputs).argmax(dim=-1) == labels).sum().cpu()
            total += len(labels)
    model.train(was_training)
    return hits.item() / total

def cosine_lr(base_lr: float, epoch: int, total_epochs: int) -> float:
    return 0.5 * base_lr * (1 + math.cos(math.pi * epoch / total_epochs))

def save_checkpoint(model: nn.Module, path: str) -> None:
    state = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    torch.save(state, path)

def load_checkpoint(model: nn.Module, path: str) -> nn.Module:
    state_dict = torch.load(path, map_location='cpu', weights_only=True)
    model.load_state_dict(state_dict)
    return model
