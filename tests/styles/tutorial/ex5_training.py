import math
from pathlib import Path

import torch
from torchvision import transforms

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def cifar10_transforms(train):
    to_tensor = [transforms.PILToTensor(), transforms.ConvertImageDtype(torch.float32),
                 transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD)]
    if not train:
        return transforms.Compose(to_tensor)
    return transforms.Compose([transforms.RandomCrop(32, padding=4, padding_mode="constant", fill=0),
                               transforms.RandomHorizontalFlip()] + to_tensor)


def train_one_epoch(model, loader, criterion, optimizer, device="cpu"):
    model.to(device)
    model.train()
    epoch_loss, n = 0.0, 0
    for inputs, labels in iter(loader):
        inputs = inputs.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        model.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        epoch_loss += float(loss) * labels.shape[0]
        n += labels.shape[0]
    return epoch_loss / n


def evaluate(model, loader, device="cpu"):
    model.to(device)
    model.eval()
    correct, total = 0, 0
    with torch.set_grad_enabled(False):
        for inputs, labels in loader:
            inputs, labels = inputs.to(device), labels.to(device)
            top1 = model(inputs).topk(1, dim=1).indices.squeeze(1)
            correct += int(torch.sum(top1 == labels))
            total += labels.shape[0]
    return correct / total


def cosine_lr(base_lr, epoch, total_epochs):
    return base_lr * (math.cos(math.pi * epoch / total_epochs) + 1) / 2


def save_checkpoint(model, path):
    torch.save(model.state_dict(), Path(path))


def load_checkpoint(model, path):
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return model
