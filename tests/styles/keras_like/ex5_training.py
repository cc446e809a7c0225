"""Exercise 5 -- keras style: a fit/evaluate pair with a metrics dict."""
import math
from typing import Iterable

import torch
from torch import nn
from torchvision.transforms import v2 as transforms

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

_TRAIN_PIPELINE = [
    ("crop", lambda: transforms.RandomCrop(size=32, padding=4)),
    ("flip", lambda: transforms.RandomHorizontalFlip(p=0.5)),
]


def cifar10_transforms(train: bool) -> transforms.Compose:
    steps = [factory() for _, factory in _TRAIN_PIPELINE] if train else []
    steps += [transforms.ToImage(), transforms.ToDtype(torch.float32, scale=True), transforms.Normalize(mean=CIFAR10_MEAN, std=CIFAR10_STD)]
    return transforms.Compose(steps)


def train_one_epoch(model, loader, criterion, optimizer, device="cpu"):
    model.train()
    history = {"loss_sum": 0.0, "samples": 0}
    for step, batch in enumerate(loader):
        inputs, labels = batch
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        predictions = model(inputs)
        loss = criterion(predictions, labels)
        loss.backward()
        optimizer.step()
        batch_size = labels.shape[0]
        history["loss_sum"] += float(loss.detach()) * batch_size
        history["samples"] += batch_size
    return history["loss_sum"] / max(history["samples"], 1)


def evaluate(model, loader, device="cpu"):
    model.eval()
    metrics = {"correct": 0, "total": 0}
    with torch.no_grad():
        for inputs, labels in loader:
            inputs, labels = inputs.to(device), labels.to(device)
            predicted = torch.argmax(model(inputs), dim=1)
            metrics["correct"] += int(torch.eq(predicted, labels).sum())
            metrics["total"] += int(labels.numel())
    return metrics["correct"] / metrics["total"]


def cosine_lr(base_lr, epoch, total_epochs):
    progress = epoch / total_epochs
    return base_lr * (1.0 + math.cos(math.pi * progress)) / 2.0


def save_checkpoint(model, path):
    torch.save(model.state_dict(), path)


def load_checkpoint(model, path):
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model
