"""CIFAR-10 from any of its usual homes, decoded once into a cached uint8 tensor file.

Layouts found under a root folder (DESIGN §6):

* ``cifar-10-batches-py/`` (torchvision's download; ``data_batch_1..5``, ``test_batch``), read with
  an unpickler that only admits NumPy arrays (no arbitrary code from a data file);
* an image folder: ``train/<class>/*`` and ``test/<class>/*`` (as on Kaggle, and the JPEG copy in
  ``../shared/data``), classes in alphabetical order (which is CIFAR-10's own label order).

The decoded images are cached as one ``torch.save`` file of uint8 tensors, keyed by the source's
file list, sizes and modification times, so later epochs and later runs decode nothing. The cache
loads with ``weights_only=True``.

A folder can hold a layout and still not be CIFAR-10: a 500-image sample, a class left out.
:func:`shortfall` says so (images per class from the file listing or the decoded labels, never a
second decode), so that the accuracy tests are not graded and ``grade data info`` warns, instead
of training on a fragment and failing every student.
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
from typing import Iterator

import torch

__all__ = ["CLASSES", "TRAIN_IMAGES", "TEST_IMAGES", "DataError", "Layout", "Counts", "Source", "Cifar10",
           "locate", "load", "download", "describe", "count_images", "shortfall", "cache_path",
           "default_cache_dir", "data_dir_from_env"]

TRAIN_IMAGES, TEST_IMAGES = 50_000, 10_000  # CIFAR-10: 5,000 and 1,000 per class
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
class Counts:
    """Images per class, in ``CLASSES`` order, of each split."""

    train: tuple[int, ...]
    test: tuple[int, ...]

    @classmethod
    def of_labels(cls, train_labels: torch.Tensor, test_labels: torch.Tensor) -> "Counts":
        def per_class(labels: torch.Tensor) -> tuple[int, ...]:
            if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= len(CLASSES)):
                raise DataError("labels outside 0..9")
            return tuple(int(n) for n in torch.bincount(labels, minlength=len(CLASSES)))

        return cls(per_class(train_labels), per_class(test_labels))


@dataclass(frozen=True)
class Source:
    root: Path  # the folder holding the layout
    layout: Layout
    files: int
    key: str  # changes whenever a file of the source changes
    counts: Counts | None = None  # from the file listing (image folder); None: known once decoded (batches)


@dataclass(frozen=True)
class Cifar10:
    train_images: torch.Tensor  # (50000, 3, 32, 32) uint8
    train_labels: torch.Tensor  # (50000,) int64
    test_images: torch.Tensor  # (10000, 3, 32, 32) uint8
    test_labels: torch.Tensor  # (10000,) int64
    source: Source
    cache_file: Path

    @property
    def counts(self) -> Counts:
        return Counts.of_labels(self.train_labels, self.test_labels)


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


def _per_class(split: Path, paths: list[Path]) -> tuple[int, ...]:
    """Images directly in each class folder: the ones :func:`_read_split` decodes."""
    index = {split / name: i for i, name in enumerate(CLASSES)}
    counts = [0] * len(CLASSES)
    for path in paths:
        if (i := index.get(path.parent)) is not None:
            counts[i] += 1
    return tuple(counts)


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
            train, test = _image_files(folder / "train"), _image_files(folder / "test")
            counts = Counts(_per_class(folder / "train", train), _per_class(folder / "test", test))
            return Source(folder, Layout.IMAGE_FOLDER, len(train) + len(test), _fingerprint(train + test), counts)
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


def count_images(source: Source, cache_dir: Path | None = None) -> Counts:
    """Images per class of ``source``, without decoding an image: from the file listing (image
    folder), else from the labels of the cached tensor file (memory-mapped), else from the labels in
    the batch files (unpickled: they hold raw arrays, nothing to decode)."""
    if source.counts is not None:
        return source.counts
    cache_file = cache_path(source, cache_dir)
    if cache_file.is_file():
        try:
            tensors = torch.load(cache_file, weights_only=True, mmap=True)
            return Counts.of_labels(tensors["train_labels"], tensors["test_labels"])
        except Exception:  # unreadable: count from the source, as load() would rebuild it
            pass
    labels = [_read_batch(source.root / name)[1] for name in BATCH_FILES]
    try:
        return Counts.of_labels(torch.cat(labels[:5]), labels[5])
    except DataError as exc:
        raise DataError(f"{source.root}: {exc}") from None


def shortfall(counts: Counts, root: Path, train_images: int = TRAIN_IMAGES,
              test_images: int = TEST_IMAGES) -> str | None:
    """Why the data at ``root`` is not the full data set (fewer than ``train_images`` and
    ``test_images`` images, or a class with fewer than its share), or None when it is. The reason
    says what to do about it: it is the TA's to act on, never the student's."""
    n_train, n_test = sum(counts.train), sum(counts.test)
    splits = (("training", counts.train, train_images), ("test", counts.test, test_images))
    problems = []
    if n_train < train_images or n_test < test_images:
        problems.append(f"{n_train:,} training and {n_test:,} test images, "
                        f"expected {train_images:,} and {test_images:,}")
    for split, per_class, _ in splits:
        if empty := [name for name, n in zip(CLASSES, per_class) if n == 0]:
            problems.append(f"no {split} images of {', '.join(empty)}")
    if not problems:  # enough images in all, yet a class is short of its share
        for split, per_class, expected in splits:
            share = expected // len(CLASSES)
            if short := [f"{name} ({n:,})" for name, n in zip(CLASSES, per_class) if n < share]:
                problems.append(f"fewer than {share:,} {split} images of {', '.join(short)}")
    if not problems:
        return None
    return f"CIFAR-10 at {root} has {'; '.join(problems)}: point --data-dir at the full data set"


def describe(root: Path, cache_dir: Path | None = None) -> Iterator[str]:
    """What ``grade data info`` prints: where it looked, what it found, how many images, whether it
    is cached. Yields the lines, then raises :class:`DataError` if the data found is not the full
    CIFAR-10 (the accuracy tests would not be graded on it), after the lines that show why."""
    yield f"data folder: {Path(root).expanduser().resolve()}"
    source = locate(root)
    cache_file = cache_path(source, cache_dir)
    yield f"found: {source.layout.value} at {source.root} ({source.files} files)"
    counts = count_images(source, cache_dir)
    yield f"images: {sum(counts.train):,} training, {sum(counts.test):,} test ({_classes(counts)})"
    yield f"cache: {cache_file} ({'present' if cache_file.is_file() else 'not built yet: the first use decodes once'})"
    reason = shortfall(counts, source.root)
    if reason:
        raise DataError(f"{reason} (the accuracy tests are not graded on this data)")


def _classes(counts: Counts) -> str:
    sizes = {(a, b) for a, b in zip(counts.train, counts.test)}
    if len(sizes) == 1:
        ((a, b),) = sizes
        return f"{a:,} and {b:,} in each of the {len(CLASSES)} classes"
    return "per class: " + ", ".join(f"{name} {a:,}/{b:,}" for name, a, b in zip(CLASSES, counts.train, counts.test))


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
