"""Recording helpers that hidden tests run *inside the worker* (as ``student.tools.<name>``): a
loader whose batches log every move to a device, a loss and a model wrapper that log what reaches
them. Untrusted like everything in the worker: what they report can only lose points when forged
(see :mod:`autograder.worker_tools`)."""

from __future__ import annotations

from typing import Any, Iterator

import torch
from torch import nn


class _Recorded(torch.Tensor):
    """A tensor that logs where ``.to()``, ``.cuda()`` and ``.cpu()`` send it. A move to a device
    returns a plain tensor (also when nothing had to move), so a batch that reaches the model still
    recorded was never moved: ``inputs.to(device)`` with its result thrown away (see
    :func:`unmoved`). Casts, copies and reshapes that move nothing (``.float()``,
    ``.to(torch.float32)``, ``.clone()``, ``.view(...)``, ...) keep the record, so
    ``inputs.float().to(device)`` counts. What other code makes of a batch (``Variable(x)``,
    arithmetic) is a plain tensor, neither moved nor unmoved as far as the record goes."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tag = getattr(args[0], "_tag", None) if args else None
        move = func in (torch.Tensor.to, torch.Tensor.cuda, torch.Tensor.cpu)
        target = _target_device(func, args[1:], kwargs) if move else None
        if tag is not None and move:
            log, batch, role = tag
            log.append((batch, role, target))
        with torch._C.DisableTorchFunctionSubclass():
            result = func(*args, **kwargs)
        if not isinstance(result, torch.Tensor):
            return result
        if move and target is not None:  # moved: a plain tensor (.to() of one already there returns itself)
            return result.as_subclass(torch.Tensor) if isinstance(result, _Recorded) else result
        if tag is not None and (move or func in _KEEPS_RECORD):  # the same batch, not moved yet
            result = result if isinstance(result, _Recorded) else result.as_subclass(_Recorded)
            result._tag = tag
        return result


#: Functions that give the same batch back, not moved (casts, copies, reshapes).
_KEEPS_RECORD = frozenset({
    torch.Tensor.float, torch.Tensor.double, torch.Tensor.half, torch.Tensor.long, torch.Tensor.int,
    torch.Tensor.type, torch.Tensor.clone, torch.Tensor.detach, torch.Tensor.contiguous,
    torch.Tensor.requires_grad_, torch.Tensor.view, torch.Tensor.view_as, torch.Tensor.reshape,
    torch.Tensor.reshape_as, torch.Tensor.flatten, torch.Tensor.squeeze, torch.Tensor.unsqueeze,
    torch.Tensor.permute, torch.Tensor.__getitem__, torch.reshape, torch.flatten, torch.squeeze,
    torch.unsqueeze, torch.clone,
})


def _target_device(func, args: tuple, kwargs: dict) -> str | None:
    """The device as given (``"cpu:0"`` stays ``cpu:0``, ``.cuda()`` is ``cuda``)."""
    if func is torch.Tensor.cpu:
        return "cpu"
    if func is torch.Tensor.cuda:
        return "cuda"
    for value in (kwargs.get("device"), *args):
        if isinstance(value, (str, torch.device)):
            return str(torch.device(value))
        if isinstance(value, torch.Tensor):
            return str(value.device)
    return None  # .to(dtype) only


def unmoved(value: Any) -> tuple[int, str] | None:
    """``(batch, role)`` when ``value`` is a batch tensor of a :class:`RecordingLoader` as it came
    out of the loader (never moved), else None."""
    tag = getattr(value, "_tag", None) if isinstance(value, _Recorded) else None
    return (tag[1], tag[2]) if tag is not None else None


class RecordingCriterion(nn.Module):
    """Wraps a loss; logs in :attr:`unmoved` each batch tensor of a :class:`RecordingLoader`
    that reaches it without having been moved (labels used where they came from)."""

    def __init__(self, criterion: nn.Module):
        super().__init__()
        self.criterion = criterion
        self.unmoved: list[tuple[int, str]] = []

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        self.unmoved += [u for u in map(unmoved, (*args, *kwargs.values())) if u is not None]
        return self.criterion(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # criterion.reduction and the like: the wrapped loss's
        return _wrapped_attribute(self, "criterion", name)


def _wrapped_attribute(wrapper: nn.Module, inner: str, name: str) -> Any:
    """``name`` of ``wrapper`` as nn.Module finds it, else of the module it wraps, so that the
    student's code sees the wrapper as what it wraps (``criterion.reduction``, ``model.fc``)."""
    try:
        return nn.Module.__getattr__(wrapper, name)
    except AttributeError:
        wrapped = wrapper.__dict__.get("_modules", {}).get(inner)
        if wrapped is None or name == inner:
            raise
        return getattr(wrapped, name)


class RecordingLoader:
    """A data loader over ``(inputs, labels)`` in order, in batches of ``batch_size``, whose
    batches record every move to a device (see :meth:`moves`)."""

    def __init__(self, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int):
        self.dataset = torch.utils.data.TensorDataset(inputs, labels)
        self.batch_size = batch_size
        # what training loops read off a DataLoader: len(loader.sampler) is the sample count
        self.sampler = torch.utils.data.SequentialSampler(self.dataset)
        self.batch_sampler = torch.utils.data.BatchSampler(self.sampler, batch_size, drop_last=False)
        self.drop_last, self.pin_memory, self.num_workers = False, False, 0
        self.log: list[tuple[int, str, str | None]] = []
        self.batches_served = 0

    def __len__(self) -> int:
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        inputs, labels = self.dataset.tensors
        for batch, start in enumerate(range(0, len(inputs), self.batch_size)):
            x = inputs[start:start + self.batch_size].clone().as_subclass(_Recorded)
            y = labels[start:start + self.batch_size].clone().as_subclass(_Recorded)
            x._tag, y._tag = (self.log, batch, "inputs"), (self.log, batch, "labels")
            self.batches_served += 1
            yield x, y

    def moves(self) -> list[tuple[int, str, str | None]]:
        """``(batch index, "inputs" or "labels", device type)`` for each move, in order."""
        return list(self.log)


class Probe(nn.Module):
    """Wraps a model; each forward logs ``(grad enabled, mode)`` (see :attr:`log`): mode True when
    the probe and every module inside it are in train mode, False when all are in eval mode, None
    when they are mixed (``model.training = True`` sets one flag, ``model.train()`` all of them)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.log: list[tuple[bool, bool | None]] = []
        self.unmoved: list[tuple[int, str]] = []  # batches of a RecordingLoader that came in unmoved

    def __getattr__(self, name: str) -> Any:  # model.fc and the like: the wrapped model's
        return _wrapped_attribute(self, "model", name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = unmoved(x)
        if batch is not None:
            self.unmoved.append(batch)
        modes = {m.training for m in self.modules()}
        self.log.append((torch.is_grad_enabled(), modes.pop() if len(modes) == 1 else None))
        return self.model(x)
