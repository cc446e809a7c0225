"""Helpers that hidden tests run *inside the worker*, as ``student.tools.<name>``.

Everything here is public and runs next to the student's code, so nothing here is trusted: the
tests only use these helpers to observe the student's objects cheaply (flags instead of whole
tensors, hooks, recorded calls) or to build inputs in the worker. Whatever a helper reports that
decides a grade is either recomputed on the trusted side or only able to lose points when forged.
"""

from __future__ import annotations

import os
import random
from typing import Any

import torch
from torch import nn

from autograder.errors import raised_from
from autograder.worker_recording import Probe, RecordingCriterion, RecordingLoader

__all__ = [
    "seed", "same", "call_twice", "call_no_grad", "param_ids", "module_ids", "param_flags", "param_count", "param_shapes", "state_shapes", "grad_summary",
    "names_of", "input_grad", "feature_shapes", "module_types", "layer_settings", "set_trainable",
    "train_step", "read_bytes", "pil_image", "RecordingLoader", "RecordingCriterion", "Probe", "forbid_downloads",
    "DownloadForbidden", "reload_as_if_on_gpu", "torchvision_builds", "build_on_meta", "build_filled", "nn_class", "builtin_kind", "write_bytes", "file_exists",
]


def seed(value: int) -> None:
    """Seed the worker's random generators (torch, random)."""
    torch.manual_seed(value)
    random.seed(value)


def same(a: Any, b: Any) -> bool:
    """``a is b`` (does a function return the very object it was given?)."""
    return a is b


def call_twice(fn: Any, *args: Any) -> list[Any]:
    """``[fn(*args), fn(*args), args]`` with the very same argument objects, and those objects as
    they are afterwards: does ``fn`` change what it is given (``layers.pop(0)``, an inserted
    sentinel), so that a second call answers differently or the caller's list is not its own?"""
    return [fn(*args), fn(*args), list(args)]


def call_no_grad(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` under ``torch.no_grad()``, as an evaluation loop calls a model."""
    with torch.no_grad():
        return fn(*args)


def param_ids(model: nn.Module) -> dict[str, int]:
    """``{name: id(parameter)}``: did a load keep the model's parameter objects (in place)?"""
    return {name: id(p) for name, p in model.named_parameters()}


def module_ids(model: nn.Module) -> dict[str, int]:
    """``{name: id(module)}`` of every submodule (a module registered twice under each name; the
    model itself left out): do two models share a layer, even one without parameters?"""
    return {name: id(m) for name, m in model.named_modules(remove_duplicate=False) if name}


def param_flags(model: nn.Module) -> dict[str, bool]:
    """``{name: requires_grad}`` for every parameter, without sending the tensors."""
    return {name: bool(p.requires_grad) for name, p in model.named_parameters()}


def param_count(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def grad_summary(model: nn.Module) -> dict[str, float | None]:
    """``{name: None}`` where a parameter has no gradient, else the sum of its gradient's |values|."""
    # vector_norm(ord=1) is that sum without a temporary copy (a VGG16 head's gradient is 400 MB)
    return {name: None if p.grad is None else float(torch.linalg.vector_norm(p.grad, 1))
            for name, p in model.named_parameters()}


def names_of(model: nn.Module, tensors: Any) -> list[str | None]:
    """The parameter name of each tensor in ``tensors`` (by identity), None for a foreign tensor."""
    by_id = {id(p): name for name, p in model.named_parameters()}
    return [by_id.get(id(t)) for t in tensors]


def feature_shapes(model: nn.Module, x: torch.Tensor, names: list[str]) -> dict[str, list[int] | None]:
    """Output shape of each named submodule during ``model(x)`` (forward hooks, removed after)."""
    modules = dict(model.named_modules())
    shapes: dict[str, list[int] | None] = {name: None for name in names}
    handles = []
    for name in names:
        if name in modules:
            def hook(_module, _inputs, output, name=name):
                if isinstance(output, torch.Tensor):
                    shapes[name] = list(output.shape)
            handles.append(modules[name].register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def module_types(model: nn.Module, as_nn: bool = False) -> list[tuple[str, str]]:
    """``(name, class name)`` of every submodule, in registration order; ``as_nn``: the name of
    the ``torch.nn`` class each one is (``nn_class``) instead of its own class name."""
    return [(name, nn_class(m) if as_nn else type(m).__name__)
            for name, m in model.named_modules(remove_duplicate=False)]


def builtin_kind(obj: Any) -> str:
    """"list" for a list or a subclass of it (likewise tuple, dict, set), else the class name:
    for rules that ask for a list, which a subclass of list is."""
    for base in (list, tuple, dict, set):
        if isinstance(obj, base):
            return base.__name__
    return type(obj).__name__


def nn_class(obj: Any) -> str:
    """The name of the first ``torch.nn`` class in ``obj``'s class hierarchy ("Sequential" for a
    subclass of ``nn.Sequential``, "Module" for a plain ``nn.Module`` subclass), else its class
    name: for rules that ask *what* a module is, not what the student called its class."""
    for cls in type(obj).__mro__:
        if cls.__module__.startswith("torch.nn") and getattr(nn, cls.__name__, None) is cls:
            return cls.__name__
    return type(obj).__name__


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    """One cross-entropy step in train mode; returns the loss."""
    model.train()
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def read_bytes(path: str, limit: int = 512 * 2**20) -> bytes:
    """The raw bytes of a file the student's code wrote (the trusted side decodes them)."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path} is over {limit // 2**20} MB")
    return data


def write_bytes(path: str, data: bytes) -> None:
    """Write a file the trusted side made (a checkpoint to load) into the worker's folder."""
    with open(path, "wb") as fh:
        fh.write(data)


def file_exists(path: str) -> bool:
    return os.path.exists(path)


def pil_image(pixels: torch.Tensor) -> Any:
    """A PIL image from an (H, W, 3) uint8 tensor, as a data set would hand it to a transform."""
    from PIL import Image

    return Image.fromarray(pixels.to(torch.uint8).numpy(), mode="RGB")


_LAYER_SETTINGS = (
    "in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
    "ceil_mode", "num_features", "in_features", "out_features", "p", "inplace", "momentum", "eps", "affine",
    "track_running_stats", "padding_mode",
)


def layer_settings(model: nn.Module) -> list[tuple[str, str, dict[str, Any]]]:
    """``(name, class name, settings)`` of each *direct* child of ``model`` in order, a module
    used twice listed twice (unlike ``named_children``); settings are the layer's plain
    hyper-parameters (kernel_size, stride, padding, p, ...) and whether it has a bias. A subclass
    of a ``torch.nn`` layer is named as that layer (the student's ``Conv(nn.Conv2d)`` is a
    "Conv2d"); a module of the student's own keeps its class name."""
    rows = []
    for name, child in model._modules.items():
        settings: dict[str, Any] = {}
        for attr in _LAYER_SETTINGS:
            value = getattr(child, attr, None)
            if isinstance(value, (bool, int, float, str)) or (
                isinstance(value, tuple) and all(isinstance(v, int) for v in value)
            ):
                settings[attr] = value
        if child is not None and "bias" in child._parameters:
            settings["bias"] = child._parameters["bias"] is not None
        kind = nn_class(child)
        rows.append((name, type(child).__name__ if kind == "Module" else kind, settings))
    return rows


def state_shapes(model: nn.Module) -> dict[str, list[int]]:
    """``{key: shape}`` for every entry of ``model.state_dict()`` (buffers included), in order,
    without sending the tensors."""
    return {key: list(value.shape) for key, value in model.state_dict().items()}



def input_grad(model: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """The gradient of ``model(x).sum()`` with respect to the input ``x`` (None when no gradient
    reaches the input). The parameters' ``.grad`` are left as they were."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = model(x)
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            return None
        (grad,) = torch.autograd.grad(out.sum(), [x], allow_unused=True)
    return None if grad is None else grad.detach()



class DownloadForbidden(RuntimeError):
    """Raised in the worker when code tries to download weights after :func:`forbid_downloads`."""


def forbid_downloads() -> None:
    """Make every download through ``torch.hub`` (which torchvision's pretrained weights use)
    raise :class:`DownloadForbidden`, so ``weights=None`` can be checked with or without a network."""
    import torch.hub

    def refuse(url: str, *args: Any, **kwargs: Any) -> None:
        raise DownloadForbidden(f"tried to download {url}: with weights=None nothing may be downloaded")

    torch.hub.download_url_to_file = refuse


def reload_as_if_on_gpu(module: Any) -> bool:
    """From here on ``torch.cuda.is_available()`` says True and ``torch.cuda.device_count()`` 1,
    and ``module`` is imported again, so that a default chosen when it is imported (``device=DEVICE``
    with ``DEVICE = "cuda" if torch.cuda.is_available() else "cpu"``) is the one a machine with a
    GPU would see. There is no GPU: anything sent to one fails (the move is recorded first).
    False when the module cannot be imported so (its top level moves a model to the GPU, say):
    then nothing can be told from it."""
    import importlib

    torch.cuda.is_available = lambda: True
    torch.cuda.device_count = lambda: 1
    try:
        importlib.reload(module)
    except Exception:  # noqa: BLE001 - the student's top level, run again
        return False
    return True


def build_on_meta(factory: Any, *args: Any, **kwargs: Any) -> Any:
    """``factory(*args, **kwargs)`` with its tensors on the ``meta`` device: names, shapes, types and
    ``requires_grad`` flags as usual, but no memory and no time for initial weights (VGG16's 138 M
    take a second). Where the student's code cannot run there (it reads a value, say), the model
    is built for real, so the result never depends on the device; tests that read values or run
    the model must not use it. A :class:`DownloadForbidden` is raised as it is: the code got as
    far as downloading weights, and would get there again on the CPU."""
    try:
        with torch.device("meta"):
            return factory(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any other failure on meta: build it the ordinary way
        if any(isinstance(e, DownloadForbidden) for e in (exc, *raised_from(exc))):  # or a wrapper of it
            raise
        return factory(*args, **kwargs)


def torchvision_builds(factory: Any, head: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Build ``factory(*args, **kwargs)`` (as :func:`build_on_meta`) while torchvision's VGG and
    ResNet note the models and modules they create. ``{"models": how many VGG/ResNet models the
    call built (0: it returned one built earlier, a copy of a cached one say), "head_kept": whether
    the returned model's ``head`` (a dotted name, "classifier.6") is the module torchvision made,
    not a new one put in its place}``."""
    import torchvision

    made: list[nn.Module] = []
    models = [0]
    originals = {cls: cls.__init__ for cls in (torchvision.models.VGG, torchvision.models.ResNet)}

    def noting(init: Any) -> Any:
        def __init__(self: nn.Module, *a: Any, **k: Any) -> None:
            init(self, *a, **k)
            models[0] += 1
            made.extend(self.modules())
        return __init__

    for cls, init in originals.items():
        cls.__init__ = noting(init)
    try:
        model = build_on_meta(factory, *args, **kwargs)
    finally:
        for cls, init in originals.items():
            cls.__init__ = init
    try:
        module = model.get_submodule(head)
    except AttributeError:
        module = None
    return {"models": models[0], "head_kept": module is not None and any(module is m for m in made)}


def build_filled(factory: Any, *args: Any, seed: int = 0, **kwargs: Any) -> Any:
    """``factory(*args, **kwargs)`` built on the ``meta`` device, then given memory and cheap
    weights: a block of 2**16 seeded uniform values, tiled and scaled to +-1/sqrt(fan_in);
    floating buffers 0 (``running_var`` 1), integer buffers 0. For tests that run a big model
    (VGG16's 138 M parameters: a second of initialisation) but do not depend on how the student
    initialises it, or that load a whole state_dict into it right away. Where the student's code
    cannot run on meta, or the model keeps constants that a state_dict does not restore (plain
    tensor attributes, non-persistent buffers), the model is built for real."""
    model = build_on_meta(factory, *args, **kwargs)
    if not isinstance(model, nn.Module) or not any(t.is_meta for t in model.state_dict().values()):
        return model  # built for real already
    if _stray_meta_tensors(model) or _non_persistent_buffers(model):
        # to_empty misses tensors kept outside parameters and buffers, and the fill below would
        # overwrite constants that no load_state_dict restores: build such a model for real
        return factory(*args, **kwargs)
    model.to_empty(device="cpu")
    block = torch.rand(2**16, generator=torch.Generator().manual_seed(seed)).mul_(2).sub_(1)
    with torch.no_grad():
        for p in model.parameters():
            _tile(p, block, 1 / max(1, p[0].numel() if p.dim() > 1 else p.numel()) ** 0.5)
        for name, b in model.named_buffers():
            b.fill_(1 if name.endswith("running_var") else 0)
    return model


def _non_persistent_buffers(model: nn.Module) -> bool:
    return any(m._non_persistent_buffers_set for m in model.modules())


def _stray_meta_tensors(model: nn.Module) -> bool:
    """Does a submodule hold a meta tensor in a plain attribute (or a list, tuple or dict of them)?"""
    for module in model.modules():
        for key, value in vars(module).items():
            if key in ("_parameters", "_buffers", "_modules"):
                continue
            items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else (value,)
            if any(isinstance(v, torch.Tensor) and not isinstance(v, nn.Parameter) and v.is_meta for v in items):
                return True
    return False


def _tile(t: torch.Tensor, block: torch.Tensor, scale: float) -> None:
    flat, n = t.view(-1), block.numel()
    whole = flat.numel() // n * n
    if whole:
        flat[:whole].view(-1, n).copy_(block.expand(whole // n, n))
    flat[whole:].copy_(block[:flat.numel() - whole])
    flat.mul_(scale)


def set_trainable(model: nn.Module, names: list[str]) -> None:
    """``requires_grad = True`` for the named parameters of ``model``, False for all the others."""
    wanted = set(names)
    for name, p in model.named_parameters():
        p.requires_grad_(name in wanted)


def param_shapes(model: nn.Module) -> dict[str, list[int]]:
    """``{name: shape}`` for every parameter, without sending the tensors."""
    return {name: list(p.shape) for name, p in model.named_parameters()}
