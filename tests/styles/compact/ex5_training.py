import numpy as np
import torch
from torchvision import transforms

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def cifar10_transforms(train):
    aug = [transforms.RandomCrop(32, 4), transforms.RandomHorizontalFlip(0.5)] if train else []
    return transforms.Compose(aug + [transforms.ToTensor(), transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD)])


def train_one_epoch(model, loader, criterion, optimizer, device="cpu"):
    model.train()
    total = torch.zeros(())
    count = 0
    for batch in loader:
        inputs, labels = batch[0].to(device), batch[1].to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
        total += loss.detach().cpu() * labels.shape[0]
        count += labels.shape[0]
    return total.item() / count


@torch.no_grad()
def evaluate(model, loader, device="cpu"):
    model.train(False)
    correct, seen = 0, 0
    for inputs, labels in loader:
        inputs, labels = inputs.to(device), labels.to(device)
        correct += model(inputs).argmax(1).eq(labels).sum().item()
        seen += len(labels)
    return correct / seen


def cosine_lr(base_lr, epoch, total_epochs):
    return float(0.5 * base_lr * (1 + np.cos(np.pi * epoch / total_epochs)))


def save_checkpoint(model, path):
    torch.save(obj=model.state_dict(), f=path)


def load_checkpoint(model, path):
    model.load_state_dict(torch.load(path, weights_only=True), strict=True)
    return model
