"""How fast is the accuracy tests' data path? Prints figures measured in one run; asserts nothing.

    python benchmarks/bench_data.py --data-dir .cache/cifar10 [--batches 100]

1. images/s of the cached-tensor pipeline (batches sliced from the uint8 tensor, crop + flip on
   whole batches, normalized) vs torchvision ImageFolder + transforms + DataLoader on the same
   image folder (the pipeline a student's ``cifar10_transforms`` would feed), and the ratio;
2. one LeNet epoch of the cpu profile (reference model and loop) and the time to reach the cpu
   profile's threshold (test accuracy after each epoch).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import torch  # noqa: E402

from autograder import fastpath  # noqa: E402
from autograder.accuracy import load_specs  # noqa: E402
from autograder.data import data_dir_from_env, load  # noqa: E402


def images_per_second(batches, count: int, batch_size: int) -> float:
    start = time.perf_counter()
    for i, _ in enumerate(batches):
        if i + 1 >= count:
            break
    return count * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=data_dir_from_env(), help="CIFAR-10 image folder")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--batches", type=int, default=100, help="batches timed per pipeline")
    args = parser.parse_args()
    if args.data_dir is None:
        parser.error("pass --data-dir or set CIFAR10_DIR")
    torch.set_num_threads(os.cpu_count() or 1)
    data = load(args.data_dir, args.cache_dir)
    spec = load_specs(REPO / "grading_tests" / "accuracy.toml")["cpu_lenet"]
    bs = spec.batch_size

    fast = fastpath.TensorLoader(data.train_images, data.train_labels, bs, train=True, crop_padding=4)
    fast_rate = images_per_second(iter(fast), args.batches, bs)

    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor(), transforms.Normalize(fastpath.CIFAR10_MEAN, fastpath.CIFAR10_STD)])
    folder = datasets.ImageFolder(str(data.source.root / "train"), transform=tf)
    workers = os.cpu_count() or 1
    loader = torch.utils.data.DataLoader(folder, batch_size=bs, shuffle=True, num_workers=workers)
    slow_rate = images_per_second(iter(loader), args.batches, bs)
    print(f"cached tensor pipeline:        {fast_rate:9.0f} images/s")
    print(f"ImageFolder + DataLoader ({workers} w): {slow_rate:9.0f} images/s   ratio {fast_rate / slow_rate:5.1f}x")

    from calibrate_accuracy import reference_namespace

    ns = reference_namespace()
    torch.manual_seed(0)
    model = ns.ex2_lenet.Net(num_classes=10)
    train = fastpath.TensorLoader(data.train_images, data.train_labels, bs, train=True, seed=0,
                                  crop_padding=spec.crop_padding, flip=spec.flip)
    optimizer = fastpath.OneCycleSGD(model.parameters(), spec.max_lr, spec.epochs * len(train))
    criterion = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    reached = None
    for epoch in range(spec.epochs):
        t0 = time.perf_counter()
        ns.ex5_training.train_one_epoch(model, train, criterion, optimizer)
        epoch_seconds = time.perf_counter() - t0
        accuracy = float((fastpath.predict(model, data.test_images) == data.test_labels).float().mean())
        print(f"epoch {epoch + 1}: {epoch_seconds:5.1f} s, test accuracy {accuracy:.4f}")
        if reached is None and accuracy >= spec.threshold:
            reached = time.perf_counter() - start
    print(f"time to reach the cpu threshold {spec.threshold:.3f}: "
          + (f"{reached:.0f} s" if reached is not None else f"not reached in {spec.epochs} epochs"))


if __name__ == "__main__":
    main()
