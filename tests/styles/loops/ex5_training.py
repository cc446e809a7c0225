import math

import torch
from torch import nn
from torchvision import transforms

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def cifar10_transforms(train):
    if train:
        return transforms.Compose([
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD),
        ])
    return transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD),
    ])


def train_one_epoch(model, loader, criterion, optimizer, device="cpu"):
    model.train()
    loss_sum = 0.0
    n_seen = 0
    for batch_idx, (inputs, labels) in enumerate(loader):
        inputs = inputs.to(device)
        labels = labels.to(device)
        optimizer.zero_grad(set_to_none=False)
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        batch = len(inputs)
        loss_sum += loss.item() * batch
        n_seen += batch
    return loss_sum / n_seen


def evaluate(model, loader, device="cpu"):
    model.eval()
    n_correct = 0
    n_total = 0
    for batch_idx, (inputs, labels) in enumerate(loader):
        inputs, labels = inputs.to(device), labels.to(device)
        with torch.no_grad():
            outputs = model(inputs)
        preds = outputs.max(1)[1]
        n_correct += int((preds == labels).sum())
        n_total += labels.numel()
    return n_correct / n_total


def cosine_lr(base_lr, epoch, total_epochs):
    progress = epoch / total_epochs
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def save_checkpoint(model, path):
    state = model.state_dict()
    torch.save(state, path)


def load_checkpoint(model, path):
    state = torch.load(path, map_location=torch.device("cpu"), weights_only=True)
    model.load_state_dict(state)
    return model
