"""Data, training and evaluation loops for CIFAR-10 classifiers.

References:
    K. He, X. Zhang, S. Ren and J. Sun. "Deep residual learning for image recognition." CVPR 2016
    (section 4.2: 4-pixel padding, random 32x32 crops and horizontal flips for CIFAR-10).
    I. Loshchilov and F. Hutter. "SGDR: Stochastic gradient descent with warm restarts."
    ICLR 2017 (the cosine learning-rate schedule).

The pieces every CIFAR-10 training script is made of:

    cifar10_transforms(train)   PIL image -> normalised (3, 32, 32) tensor, augmented for training
    train_one_epoch(...)        one pass over the loader; returns the mean loss per sample
    evaluate(...)               top-1 accuracy as a fraction in [0, 1]
    cosine_lr(...)              0.5 * base_lr * (1 + cos(pi * epoch / total_epochs))
    save_checkpoint(...)        model.state_dict() to a file torch.load(weights_only=True) reads
    load_checkpoint(...)        that file back into the model, in place

A typical script::

    model = Net().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(0.1, epoch, epochs)
        loss = train_one_epoch(model, train_loader, criterion, optimizer, device)
        accuracy = evaluate(model, test_loader, device)
    save_checkpoint(model, "net.pt")
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn
from torchvision import transforms

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "cifar10_transforms",
    "train_one_epoch",
    "evaluate",
    "cosine_lr",
    "save_checkpoint",
    "load_checkpoint",
]

#: Per-channel (R, G, B) mean and standard deviation of the 50,000 CIFAR-10 training images,
#: with pixel values scaled to [0, 1].
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def cifar10_transforms(train: bool) -> transforms.Compose:
    """The transform applied to each PIL image: augmented for training, deterministic for testing."""
    # BEGIN SOLUTION
    to_normalized_tensor = [transforms.ToTensor(), transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD)]
    if train:
        augment = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()]
        return transforms.Compose(augment + to_normalized_tensor)
    return transforms.Compose(to_normalized_tensor)
    # END SOLUTION


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: str | torch.device = "cpu",
) -> float:
    """One pass over ``loader`` in train mode, one optimizer step per batch; returns the mean loss
    per sample over the epoch."""
    # BEGIN SOLUTION
    model.train()
    total_loss, total_samples = 0.0, 0
    for inputs, labels in loader:
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * inputs.size(0)
        total_samples += inputs.size(0)
    return total_loss / total_samples
    # END SOLUTION


def evaluate(model: nn.Module, loader: Iterable, device: str | torch.device = "cpu") -> float:
    """Top-1 accuracy of ``model`` over ``loader``, as a fraction in [0, 1]."""
    # BEGIN SOLUTION
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for inputs, labels in loader:
            inputs, labels = inputs.to(device), labels.to(device)
            predictions = model(inputs).argmax(dim=1)
            correct += (predictions == labels).sum().item()
            total += labels.size(0)
    return correct / total
    # END SOLUTION


def cosine_lr(base_lr: float, epoch: int, total_epochs: int) -> float:
    """The learning rate of cosine annealing (to 0) at ``epoch`` of ``total_epochs``."""
    # BEGIN SOLUTION
    return 0.5 * base_lr * (1 + math.cos(math.pi * epoch / total_epochs))
    # END SOLUTION


def save_checkpoint(model: nn.Module, path: str) -> None:
    """Write ``model.state_dict()`` to ``path``."""
    # BEGIN SOLUTION
    torch.save(model.state_dict(), path)
    # END SOLUTION


def load_checkpoint(model: nn.Module, path: str) -> nn.Module:
    """Load the state_dict saved at ``path`` into ``model`` (in place) and return ``model``."""
    # BEGIN SOLUTION
    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state_dict)
    return model
    # END SOLUTION
