"""The fast training path for accuracy tests: batches sliced from the cached uint8 tensor,
augmentation on whole batches (random crop with padding, horizontal flip), channels_last and
bfloat16 autocast on CUDA.

It replaces only the data pipeline: the student's own model class, ``train_one_epoch`` and
``evaluate`` still do the training. Hidden tests use it inside the worker as ``student.fastpath``;
the calibration script uses the same code in-process on the reference, so thresholds and grades
come from the same pipeline.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch
from torch import nn

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "TensorLoader", "AutocastModel", "prepare_model",
           "OneCycleSGD", "predict", "use_threads"]

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def use_threads(count: int) -> int:
    """Let torch use ``count`` threads in this process (the worker starts with one)."""
    torch.set_num_threads(max(1, int(count)))
    return torch.get_num_threads()


def augment(images: torch.Tensor, generator: torch.Generator, crop_padding: int = 4,
            flip: bool = True) -> torch.Tensor:
    """Random crop (zero padding, as ``RandomCrop(32, padding=4)``) and horizontal flip, per image,
    on a whole (N, C, H, W) batch at once."""
    n, _, h, w = images.shape
    if crop_padding:
        padded = nn.functional.pad(images, [crop_padding] * 4)
        dy = torch.randint(0, 2 * crop_padding + 1, (n,), generator=generator, device=images.device)
        dx = torch.randint(0, 2 * crop_padding + 1, (n,), generator=generator, device=images.device)
        rows = (dy[:, None] + torch.arange(h, device=images.device))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=images.device))[:, None, None, :]
        batch = torch.arange(n, device=images.device)[:, None, None, None]
        channel = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
        images = padded[batch, channel, rows, cols]
    if flip:
        mask = torch.rand(n, generator=generator, device=images.device) < 0.5
        images = torch.where(mask[:, None, None, None], images.flip(3), images)
    return images


class TensorLoader:
    """A data loader over uint8 images (N, 3, 32, 32) and labels that yields normalized float
    batches; with ``train=True`` it shuffles each epoch and augments on whole batches.

    It looks like a ``DataLoader`` to a training loop: iterable, ``len()`` in batches,
    ``.dataset`` and ``.sampler`` with ``len()`` in samples, ``.batch_size``, ``.drop_last``,
    ``.pin_memory``, ``.num_workers``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None, batch_size: int, *,
                 train: bool = False, seed: int = 0, device: str = "cpu", crop_padding: int = 4,
                 flip: bool = True, channels_last: bool = False):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError("images must be a uint8 tensor of shape (N, C, H, W)")
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = (labels if labels is not None else torch.zeros(len(images), dtype=torch.int64)).to(self.device)
        self.dataset = torch.utils.data.TensorDataset(self.images, self.labels)
        self.batch_size = batch_size
        self.sampler = (torch.utils.data.RandomSampler if train else torch.utils.data.SequentialSampler)(self.dataset)
        self.batch_sampler = torch.utils.data.BatchSampler(self.sampler, batch_size, drop_last=False)
        self.drop_last, self.pin_memory, self.num_workers = False, False, 0
        self.train, self.crop_padding, self.flip, self.channels_last = train, crop_padding, flip, channels_last
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.mean = torch.tensor(CIFAR10_MEAN, device=self.device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(CIFAR10_STD, device=self.device).view(1, 3, 1, 1) * 255

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.images)
        order = (torch.randperm(n, generator=self.generator, device=self.device) if self.train
                 else torch.arange(n, device=self.device))
        for start in range(0, n, self.batch_size):
            index = order[start:start + self.batch_size]
            x = self.images[index].float()
            if self.train:
                x = augment(x, self.generator, self.crop_padding, self.flip)
            x = (x - self.mean) / self.std
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels[index]


class AutocastModel(nn.Module):
    """Runs the wrapped model under bfloat16 autocast on CUDA (float32 logits come out)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return self.model(x).float()


def prepare_model(model: nn.Module, device: str = "cpu", channels_last: bool | None = None) -> nn.Module:
    """Move the model to ``device``; on CUDA also autocast. ``channels_last`` (default: on CUDA)
    stores its weights channels-last, which makes every activation channels-last too: feed it
    batches from a ``TensorLoader(..., channels_last=True)``. Not for a model that may flatten a
    feature map larger than 1x1 with ``.view`` (LeNet's 16x8x8): ``.view`` refuses that layout."""
    model = model.to(device)
    cuda = torch.device(device).type == "cuda"
    if channels_last is None:
        channels_last = cuda
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return AutocastModel(model) if cuda else model


class OneCycleSGD:
    """SGD (Nesterov momentum, weight decay) whose learning rate follows a one-cycle schedule,
    stepped on every ``step()``: a training loop that only calls ``zero_grad()`` and ``step()``
    gets the schedule for free."""

    def __init__(self, params, max_lr: float, total_steps: int, momentum: float = 0.9,
                 weight_decay: float = 5e-4):
        self.optimizer = torch.optim.SGD(params, lr=max_lr, momentum=momentum, nesterov=True,
                                         weight_decay=weight_decay)
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=max_lr,
                                                             total_steps=total_steps)
        self.steps, self.total_steps = 0, total_steps

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        loss = self.optimizer.step(closure)
        if self.steps < self.total_steps - 1:
            self.scheduler.step()
        self.steps += 1
        return loss

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    def state_dict(self):
        return self.optimizer.state_dict()


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000, device: str = "cpu") -> torch.Tensor:
    """Top-1 class of each image (uint8, unnormalized), in eval mode: what the trusted side scores."""
    model.eval()
    loader = TensorLoader(images, None, batch_size, device=device)
    return torch.cat([model(x).argmax(1).cpu() for x, _ in loader])
