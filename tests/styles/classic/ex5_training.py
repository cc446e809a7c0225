import math

import torch
import torchvision.transforms as transforms

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def cifar10_transforms(train):
    if train:
        transform = transforms.Compose([
            transforms.Pad(4),
            transforms.RandomCrop(32),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD, inplace=True),
        ])
    else:
        transform = transforms.Compose([
            transforms.ToTensor(),
            transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD, inplace=True),
        ])
    return transform


def train_one_epoch(model, loader, criterion, optimizer, device="cpu"):
    model.train(True)
    train_loss = 0.0
    for step, data in enumerate(loader, 1):
        inputs, labels = data
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        train_loss += loss.item() * inputs.size(0)
    return train_loss / len(loader.sampler)  # the Udacity CIFAR notebook's count


def evaluate(model, loader, device="cpu"):
    model.eval()
    correct = 0
    total = 0
    with torch.no_grad():
        for data in loader:
            images, labels = data
            images, labels = images.to(device), labels.to(device)
            outputs = model(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum()
    return correct.item() / total


def cosine_lr(base_lr, epoch, total_epochs):
    return 0.5 * base_lr * (1 + torch.cos(torch.tensor(math.pi * epoch / total_epochs)).item())


def save_checkpoint(model, path):
    torch.save(model.state_dict(), path)


def load_checkpoint(model, path):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint)
    return model
