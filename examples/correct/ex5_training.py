import numpy as np
import torch
from torchvision.transforms import v2

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)


def cifar10_transforms(train):
    steps = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(CIFAR10_MEAN, CIFAR10_STD)]
    if train:
        steps = [v2.RandomHorizontalFlip(p=0.5), v2.RandomCrop(size=(32, 32), padding=4)] + steps
    return v2.Compose(steps)


def train_one_epoch(model, loader, criterion, optimizer, device="cpu"):
    model.train()
    running = 0.0
    for i, (inputs, labels) in enumerate(loader):
        inputs = inputs.to(device, non_blocking=True)
        labels = labels.to(device=device)
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=False)
        running += loss.item() * labels.size(0)
    return running / len(loader.dataset)


@torch.inference_mode()
def evaluate(model, loader, device="cpu"):
    model.eval()
    correct = 0
    for inputs, labels in loader:
        inputs, labels = inputs.to(device), labels.to(device)
        _, predicted = torch.max(model(inputs), 1)
        correct += predicted.eq(labels).sum().item()
    return correct / len(loader.dataset)


def cosine_lr(base_lr, epoch, total_epochs):
    return base_lr * (1 + np.cos(np.pi * epoch / total_epochs)) / 2


def save_checkpoint(model, path):
    with open(path, "wb") as fh:
        torch.save(model.state_dict(), fh)


def load_checkpoint(model, path):
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state, strict=True)
    return model
