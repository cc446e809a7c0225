"""CIFAR-10 from any of its usual homes, decoded once into a cached uint8 tensor file.

Layouts found under a root folder (DESIGN §6):

* ``cifar-10-batches-py/`` (torchvision's download; ``data_batch_1..5``, ``test_batch``), read with
  an unpickler that only admits NumPy arrays (no arbitrary code from a data file);
* an image folder: ``train/<class>/*`` and ``test/<class>/*`` (as on Kaggle, and the JPEG copy in
  ``../shared/data``), classes in alphabetical order (which is CIFAR-10's own label order).

The decoded images are cached as one ``torch.save`` file of uint8 tensors, keyed by the source's
file list, sizes and modification times, so later epochs and later runs decode nothing. The cache
loads with ``weights_only=True``.
"""

from __future__ import annotations

import enum
import hashlib
import io
import os
import pickle
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["CLASSES", "DataError", "Layout", "Source", "Cifar10", "locate", "load", "download", "describe",
           "cache_path", "default_cache_dir", "data_dir_from_env"]

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
BATCH_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
ENV_VAR = "CIFAR10_DIR"
EXPECTED = ("expected one of: DIR/cifar-10-batches-py/{data_batch_1..5,test_batch} (torchvision's "
            "download), or an image folder DIR/train/<class>/*.png|jpg and DIR/test/<class>/*")


class DataError(Exception):
    """CIFAR-10 is missing, incomplete or corrupt; the message names the path and the layouts."""


class Layout(str, enum.Enum):
    BATCHES = "cifar-10-batches-py"
    IMAGE_FOLDER = "image-folder"


@dataclass(frozen=True)
class Source:
    root: Path  # the folder holding the layout
    layout: Layout
    files: int
    key: str  # changes whenever a file of the source changes


@dataclass(frozen=True)
class Cifar10:
    train_images: torch.Tensor  # (50000, 3, 32, 32) uint8
    train_labels: torch.Tensor  # (50000,) int64
    test_images: torch.Tensor  # (10000, 3, 32, 32) uint8
    test_labels: torch.Tensor  # (10000,) int64
    source: Source
    cache_file: Path


def data_dir_from_env() -> Path | None:
    value = os.environ.get(ENV_VAR)
    return Path(value) if value else None


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cnn-autograder"


def _fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _image_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]


def locate(root: Path) -> Source:
    """Find CIFAR-10 in ``root`` (or one level below it); ``DataError`` names what was expected."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DataError(f"CIFAR-10 data folder not found: {root} ({EXPECTED})")
    candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
    for folder in candidates:
        batches = folder / "cifar-10-batches-py" if (folder / "cifar-10-batches-py").is_dir() else folder
        if all((batches / name).is_file() for name in BATCH_FILES):
            paths = [batches / name for name in BATCH_FILES]
            return Source(batches, Layout.BATCHES, len(paths), _fingerprint(paths))
        if (folder / "train").is_dir() and (folder / "test").is_dir():
            missing = [f"{split}/{c}" for split in ("train", "test") for c in CLASSES
                       if not (folder / split / c).is_dir()]
            if missing:
                raise DataError(f"{folder}: image folder without class folders {', '.join(missing[:4])}"
                                f"{' ...' if len(missing) > 4 else ''} ({EXPECTED})")
            paths = _image_files(folder / "train") + _image_files(folder / "test")
            return Source(folder, Layout.IMAGE_FOLDER, len(paths), _fingerprint(paths))
    raise DataError(f"no CIFAR-10 found in {root} ({EXPECTED})")


class _ArraysOnly(pickle.Unpickler):
    """Unpickles CIFAR-10's batch files: dicts, lists, bytes and NumPy arrays, nothing else."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        return super().find_class(module, name)


def _read_batch(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        with open(path, "rb") as fh:
            entry = _ArraysOnly(fh, encoding="latin1").load()
        data = torch.as_tensor(entry["data"], dtype=torch.uint8).reshape(-1, 3, 32, 32)
        labels = torch.as_tensor(entry.get("labels", entry.get("fine_labels")), dtype=torch.int64)
    except (OSError, pickle.UnpicklingError, KeyError, TypeError, ValueError, RuntimeError, EOFError) as exc:
        raise DataError(f"{path}: not a readable CIFAR-10 batch file ({exc}); {EXPECTED}") from None
    if len(data) != len(labels):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} labels")
    return data, labels


def _decode_image(path: Path) -> torch.Tensor:
    from PIL import Image

    try:
        with Image.open(path) as img:
            array = torch.frombuffer(bytearray(img.convert("RGB").tobytes()), dtype=torch.uint8)
            width, height = img.size
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot decode the image ({exc})") from None
    if (width, height) != (32, 32):
        raise DataError(f"{path}: image is {width}x{height}, CIFAR-10 images are 32x32")
    return array.reshape(32, 32, 3).permute(2, 0, 1)


def _read_split(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    paths, labels = [], []
    for label, name in enumerate(CLASSES):
        files = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += files
        labels += [label] * len(files)
    if not paths:
        raise DataError(f"{folder}: no images ({EXPECTED})")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        images = list(pool.map(_decode_image, paths, chunksize=256))
    return torch.stack(images), torch.tensor(labels, dtype=torch.int64)


def _decode(source: Source) -> dict[str, torch.Tensor]:
    if source.layout is Layout.BATCHES:
        parts = [_read_batch(source.root / name) for name in BATCH_FILES]
        train = parts[:5]
        return {"train_images": torch.cat([p[0] for p in train]), "train_labels": torch.cat([p[1] for p in train]),
                "test_images": parts[5][0], "test_labels": parts[5][1]}
    train_images, train_labels = _read_split(source.root / "train")
    test_images, test_labels = _read_split(source.root / "test")
    return {"train_images": train_images, "train_labels": train_labels,
            "test_images": test_images, "test_labels": test_labels}


def cache_path(source: Source, cache_dir: Path | None = None) -> Path:
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return cache_dir / f"cifar10-{source.layout.value}-{source.key}.pt"


def describe(root: Path, cache_dir: Path | None = None) -> list[str]:
    """What ``grade data info`` prints: where it looked, what it found, whether it is cached."""
    lines = [f"data folder: {Path(root).expanduser().resolve()}"]
    source = locate(root)
    cache_file = cache_path(source, cache_dir)
    lines += [f"found: {source.layout.value} at {source.root} ({source.files} files)",
              f"cache: {cache_file} ({'present' if cache_file.is_file() else 'not built yet: the first use decodes once'})"]
    return lines


def load(root: Path, cache_dir: Path | None = None) -> Cifar10:
    """CIFAR-10 from ``root``, decoded at most once: later calls read the cached tensor file."""
    source = locate(root)
    cache_file = cache_path(source, cache_dir)
    cache_dir = cache_file.parent
    tensors = None
    if cache_file.is_file():
        try:
            tensors = torch.load(cache_file, weights_only=True)
        except Exception:  # a truncated or foreign cache file is rebuilt, never trusted
            tensors = None
    if tensors is None:
        tensors = _decode(source)
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache_dir, suffix=".tmp", delete=False) as tmp:
            buffer = io.BytesIO()
            torch.save(tensors, buffer)
            tmp.write(buffer.getvalue())
        os.replace(tmp.name, cache_file)  # atomic: a crash never leaves half a cache behind
    _check(tensors, source)
    return Cifar10(tensors["train_images"], tensors["train_labels"], tensors["test_images"],
                   tensors["test_labels"], source, cache_file)


def _check(tensors: dict, source: Source) -> None:
    for split in ("train", "test"):
        images, labels = tensors.get(f"{split}_images"), tensors.get(f"{split}_labels")
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.shape[1:] != (3, 32, 32):
            raise DataError(f"{source.root}: {split} images are not (N, 3, 32, 32) uint8")
        if not isinstance(labels, torch.Tensor) or len(labels) != len(images):
            raise DataError(f"{source.root}: {split} labels do not match the images")
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= len(CLASSES)):
            raise DataError(f"{source.root}: {split} labels outside 0..9")


def download(root: Path) -> Source:
    """torchvision's CIFAR-10 download into ``root`` (its MD5 checksums are verified)."""
    from torchvision.datasets import CIFAR10

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    try:
        CIFAR10(str(root), train=True, download=True)
        CIFAR10(str(root), train=False, download=True)
    except (OSError, RuntimeError) as exc:
        raise DataError(f"downloading CIFAR-10 into {root} failed: {exc}") from None
    return locate(root)
