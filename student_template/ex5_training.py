"""Exercise 5: data, training and evaluation loops for CIFAR-10.

Every CIFAR-10 training script is made of the same few pieces; here you write them once and use
them for all your networks (LeNet, VGG, ResNet):

    cifar10_transforms(train)   PIL image -> normalised (3, 32, 32) tensor, augmented for training
    train_one_epoch(...)        one pass over the training data; returns the mean loss per sample
    evaluate(...)               top-1 accuracy as a fraction in [0, 1]
    cosine_lr(...)              the cosine learning-rate schedule
    save_checkpoint(...)        model.state_dict() to a file
    load_checkpoint(...)        that file back into a model

The augmentation (4-pixel padding, random 32x32 crops, horizontal flips) is the one of K. He,
X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition" (CVPR 2016, section
4.2); the schedule is the cosine annealing of I. Loshchilov and F. Hutter, "SGDR: Stochastic
gradient descent with warm restarts" (ICLR 2017), without restarts.

A typical script using them::

    model = Net().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(0.1, epoch, epochs)
        loss = train_one_epoch(model, train_loader, criterion, optimizer, device)
        accuracy = evaluate(model, test_loader, device)
    save_checkpoint(model, "net.pt")

Fill in every function below: every place that says ``raise NotImplementedError``. Check your work
with ``grade check ex5`` (public tests; the hidden tests check more, see the handout
``assignments/ex5.md``).
"""

from __future__ import annotations

import math  # noqa: F401  (math.cos, math.pi)
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

#: Per-channel (R, G, B) mean and standard deviation of the 50,000 CIFAR-10 training images, with
#: pixel values scaled to [0, 1] (what ToTensor() gives). Given: use them in Normalize.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def cifar10_transforms(train: bool) -> transforms.Compose:
    """The transform torchvision's ``CIFAR10`` data set applies to each image.

    The data set hands over a 32x32 RGB PIL image; the transform returns a float tensor of shape
    (3, 32, 32) (channels first), normalised per channel as (x - mean) / std.

    Args:
        train: True for the training transform (random augmentation), False for the test transform
            (deterministic).

    Returns:
        A ``transforms.Compose`` of, in this order:

        - train=True:  ``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip()``, ``ToTensor()``,
          ``Normalize(CIFAR10_MEAN, CIFAR10_STD)``
        - train=False: ``ToTensor()``, ``Normalize(CIFAR10_MEAN, CIFAR10_STD)``

    Rules the grader checks:

    - The test transform is exactly ToTensor then Normalize: no augmentation, the same output for
      the same image every time.
    - Each training output is the image padded with 4 black pixels on every side (40x40), cropped
      back to 32x32 at a random position (a shift of up to 4 pixels in each direction), flipped
      left to right with probability 0.5, then converted and normalised. Over many images both
      flipped and unflipped outputs and many crop positions occur.
    - Normalisation uses CIFAR-10's statistics: the constants above (each mean may be off by up to
      0.02 and each std by up to 0.07, so the also widely quoted std (0.2023, 0.1994, 0.2010)
      passes; ImageNet's mean (0.485, 0.456, 0.406) does not).

    torchvision's random transforms draw from torch's generator, so ``torch.manual_seed`` makes
    them repeatable (the grader seeds it before each call).
    """
    # TODO: build and return the Compose for each case.
    # Hints:
    #   - RandomCrop and RandomHorizontalFlip work on the PIL image; ToTensor() turns it into a
    #     float tensor in [0, 1] of shape (3, 32, 32); Normalize works on that tensor. So the order
    #     matters: Normalize before ToTensor fails, and cropping after Normalize pads with the
    #     wrong value (0 after normalisation is the mean colour, not black).
    #   - RandomCrop(32) without padding=4 never moves the crop: a 32x32 crop of a 32x32 image is
    #     the image itself.
    #   - No random transform in the test transform: test accuracy must not depend on luck.
    raise NotImplementedError("cifar10_transforms")


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: str | torch.device = "cpu",
) -> float:
    """Train ``model`` for one pass over ``loader``: one optimizer step per batch.

    Args:
        model: the network; it may arrive in eval mode (evaluate() leaves it so).
        loader: yields ``(inputs, labels)`` batches, e.g. a ``torch.utils.data.DataLoader``:
            inputs of shape (B, ...) and labels of shape (B,) (class indices). B is
            ``loader.batch_size`` except possibly for the last batch, which may be smaller;
            ``loader.dataset`` holds all the samples.
        criterion: the loss, e.g. ``nn.CrossEntropyLoss()``; ``criterion(outputs, labels)`` is the
            batch's MEAN loss (a 0-d tensor).
        optimizer: built on ``model``'s parameters, e.g. ``torch.optim.SGD``.
        device: where the model is (``"cpu"``, ``"cuda"``, a ``torch.device``). The default stays
            ``"cpu"``: the caller picks the GPU and passes it in, the function never picks one itself.

    Returns:
        The mean loss per sample over the epoch, a Python float: the sum over all samples of their
        loss, divided by the number of samples. Each batch's loss is the one computed in its
        forward pass, before its step.

    Rules the grader checks:

    - The model is in train mode during the epoch (``model.train()`` first), every layer and every
      batch: a last batch of one sample too (batch norm refuses it in train mode; that error is
      the caller's to fix with ``drop_last=True``, not the loop's to hide).
    - For every batch, in this order: move inputs and labels to ``device`` (``.to(device)``),
      ``optimizer.zero_grad()``, forward, loss, ``loss.backward()``, the optimizer's ``step()``.
      Gradients must never accumulate from one batch to the next (zeroing right after the step
      works too). After the epoch the weights equal those of the same SGD steps computed by the
      grader, with momentum and weight decay, batch norm included.
    - The returned mean is per SAMPLE, also when the last batch is smaller: the mean of the
      batches' means would weigh the last batch's samples more.
    """
    # TODO: the training loop.
    #   model.train()
    #   for inputs, labels in loader:
    #       move both to device; zero the gradients; outputs = model(inputs);
    #       loss = criterion(outputs, labels); backward; step;
    #       add the batch's loss times its size to a running total, and its size to a count
    #   return total / count
    # Hints:
    #   - loss.item() is a Python float: accumulate floats, not tensors (a tensor total keeps
    #     every batch's graph alive).
    #   - The batch size is inputs.size(0), not loader.batch_size (the last batch may be smaller).
    #   - Dividing by len(loader) divides by the number of BATCHES, not samples.
    raise NotImplementedError("train_one_epoch")


def evaluate(model: nn.Module, loader: Iterable, device: str | torch.device = "cpu") -> float:
    """Top-1 accuracy of ``model`` on the data of ``loader``.

    Args:
        model: the network; it may arrive in train mode (train_one_epoch() leaves it so).
        loader: yields ``(inputs, labels)`` batches as in ``train_one_epoch``; the last batch may
            be smaller.
        device: where the model is; ``"cpu"`` by default (never a device the function picks).

    Returns:
        The fraction of samples whose predicted class (the index of the largest logit, argmax over
        dim 1) equals the label: a Python float in [0, 1] (0.87, not 87).

    Rules the grader checks:

    - The model is in eval mode (``model.eval()``) for every forward pass.
    - No gradients are recorded: the loop runs under ``torch.no_grad()`` (or
      ``torch.inference_mode()``).
    - Correct predictions and samples are counted over the whole loader and divided once (the mean
      of per-batch accuracies is wrong when the last batch is smaller).
    """
    # TODO: model.eval(); then, with gradients off, for each batch: move it to device, predict
    #       with outputs.argmax(dim=1), count the correct predictions and the samples.
    #       Return correct / total.
    raise NotImplementedError("evaluate")


def cosine_lr(base_lr: float, epoch: int, total_epochs: int) -> float:
    """The learning rate for ``epoch`` (0-based) of a cosine schedule annealing to 0.

        lr = 0.5 * base_lr * (1 + cos(pi * epoch / total_epochs))

    Args:
        base_lr: the learning rate at epoch 0.
        epoch: the current epoch, 0 <= epoch <= total_epochs.
        total_epochs: the length of the schedule.

    Returns:
        A float: base_lr at epoch 0, base_lr / 2 at epoch total_epochs / 2, 0 at epoch
        total_epochs. It equals the learning rate of
        ``torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_epochs, eta_min=0)``
        after ``epoch`` calls of ``scheduler.step()``.
    """
    # TODO: one line with math.cos and math.pi.
    # Hints: use epoch as it is (not epoch + 1); / is true division in Python 3.
    raise NotImplementedError("cosine_lr")


def save_checkpoint(model: nn.Module, path: str) -> None:
    """Write ``model.state_dict()`` to the file ``path``.

    Rules the grader checks:

    - The file holds the state_dict itself (not wrapped in another dict), with every parameter
      and buffer (batch norm's running statistics too).
    - ``torch.load(path, weights_only=True)`` reads it. ``torch.save(model)`` pickles the whole
      module instead, which only loads with weights_only=False: that can run arbitrary code
      hidden in a file, and breaks when the class's code changes.
    """
    # TODO: one line, torch.save(...)
    raise NotImplementedError("save_checkpoint")


def load_checkpoint(model: nn.Module, path: str) -> nn.Module:
    """Load the state_dict saved at ``path`` into ``model`` and return ``model``.

    Args:
        model: a network of the same architecture as the saved one; its weights are replaced in
            place.
        path: a file written by ``save_checkpoint`` (``torch.save(model.state_dict(), path)``),
            on this machine or on a GPU machine: it should load on a CPU-only one too
            (``map_location="cpu"``; without it, torch.load puts each tensor back on the GPU it
            came from and fails where there is none).

    Returns:
        ``model`` itself, now holding the saved weights (so that
        ``model = load_checkpoint(Net(), "net.pt")`` reads naturally).
    """
    # TODO: torch.load(path, map_location="cpu", weights_only=True), then model.load_state_dict(...)
    # Hint: model.load_state_dict(...) returns a named tuple of missing/unexpected keys, not the
    #       model: return model itself.
    raise NotImplementedError("load_checkpoint")
