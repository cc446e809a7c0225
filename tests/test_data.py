"""CIFAR-10 loading: both layouts, the cache, and clear errors (synthetic data sets, made here)."""

from __future__ import annotations

import os
import pickle
import time

import numpy as np
import pytest
import torch
from PIL import Image

from autograder.data import CLASSES, Counts, DataError, Layout, count_images, describe, load, locate, shortfall


def make_batches(root, per_batch=4, test=5):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", test)]:
        entry = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 "labels": [int(x) for x in rng.integers(0, 10, n)], "batch_label": name}
        with open(folder / name, "wb") as fh:
            pickle.dump(entry, fh)
    return folder


def make_image_folder(root, per_class=2, suffix=".png", test_per_class=None):
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for name in CLASSES:
            (root / split / name).mkdir(parents=True)
            for i in range(per_class if split == "train" or test_per_class is None else test_per_class):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i:04d}{suffix}")
    return root


def test_batches_layout_is_found_and_decoded(tmp_path):
    folder = make_batches(tmp_path / "data")
    data = load(tmp_path / "data", cache_dir=tmp_path / "cache")
    assert data.source.layout is Layout.BATCHES and data.source.root == folder
    assert data.train_images.shape == (20, 3, 32, 32) and data.train_images.dtype == torch.uint8
    assert data.test_images.shape == (5, 3, 32, 32) and data.test_labels.dtype == torch.int64
    with open(folder / "data_batch_1", "rb") as fh:
        first = pickle.load(fh)
    assert torch.equal(data.train_images[0].flatten(), torch.as_tensor(first["data"][0]))  # CHW order kept
    assert data.train_labels[:4].tolist() == first["labels"]


def test_image_folder_layout_uses_alphabetical_class_labels(tmp_path):
    make_image_folder(tmp_path)
    data = load(tmp_path, cache_dir=tmp_path / "cache")
    assert data.source.layout is Layout.IMAGE_FOLDER
    assert data.train_images.shape == (20, 3, 32, 32)
    assert data.train_labels.tolist() == [i // 2 for i in range(20)]
    pixels = np.array(Image.open(tmp_path / "train" / "bird" / "0001.png"))
    assert torch.equal(data.train_images[5], torch.as_tensor(pixels).permute(2, 0, 1))


def test_the_cache_is_reused_and_rebuilt_when_the_source_changes(tmp_path, monkeypatch):
    make_image_folder(tmp_path / "data")
    first = load(tmp_path / "data", cache_dir=tmp_path / "cache")
    import autograder.data as data_module

    def no_decoding(*_args):
        raise AssertionError("decoded again although the cache is valid")

    monkeypatch.setattr(data_module, "_decode", no_decoding)
    again = load(tmp_path / "data", cache_dir=tmp_path / "cache")
    assert again.cache_file == first.cache_file and torch.equal(again.train_images, first.train_images)
    monkeypatch.undo()
    path = tmp_path / "data" / "test" / "cat" / "0000.png"
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(path)
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    changed = load(tmp_path / "data", cache_dir=tmp_path / "cache")
    assert changed.cache_file != first.cache_file and int(changed.test_images[6].sum()) == 0


def test_a_corrupt_cache_file_is_rebuilt(tmp_path):
    make_batches(tmp_path / "data")
    first = load(tmp_path / "data", cache_dir=tmp_path / "cache")
    first.cache_file.write_bytes(b"not a tensor file")
    again = load(tmp_path / "data", cache_dir=tmp_path / "cache")
    assert torch.equal(again.train_images, first.train_images)


def test_missing_data_names_the_path_and_the_layouts(tmp_path):
    with pytest.raises(DataError, match="not found") as info:
        locate(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value) and "cifar-10-batches-py" in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="image folder"):
        locate(tmp_path / "empty")


def test_an_incomplete_image_folder_names_the_missing_classes(tmp_path):
    make_image_folder(tmp_path)
    for f in (tmp_path / "test" / "truck").iterdir():
        f.unlink()
    (tmp_path / "test" / "truck").rmdir()
    with pytest.raises(DataError, match="test/truck"):
        locate(tmp_path)


def test_a_corrupt_image_names_the_file(tmp_path):
    make_image_folder(tmp_path)
    bad = tmp_path / "train" / "dog" / "0000.png"
    bad.write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataError, match="dog/0000.png"):
        load(tmp_path, cache_dir=tmp_path / "cache")


def test_a_batch_file_that_would_run_code_is_refused(tmp_path):
    folder = make_batches(tmp_path / "data")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({"data": Evil(), "labels": []}, fh)
    with pytest.raises(DataError, match="refusing to load"):
        load(tmp_path / "data", cache_dir=tmp_path / "cache")


@pytest.fixture
def archive_server(tmp_path, monkeypatch):
    """A local HTTP server holding a small CIFAR-10 archive in torchvision's format, with
    torchvision's URL and checksums pointed at it (no internet needed)."""
    import hashlib
    import http.server
    import tarfile
    import threading

    from torchvision.datasets import CIFAR10

    build = tmp_path / "build"
    folder = make_batches(build)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": list(CLASSES)}, fh)
    md5 = lambda p: hashlib.md5(p.read_bytes()).hexdigest()  # noqa: E731
    serve = tmp_path / "www"
    serve.mkdir()
    with tarfile.open(serve / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")

    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(serve))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(CIFAR10, "url", f"http://127.0.0.1:{server.server_port}/cifar-10-python.tar.gz")
    monkeypatch.setattr(CIFAR10, "tgz_md5", md5(serve / "cifar-10-python.tar.gz"))
    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5(folder / f"data_batch_{i}")] for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5(folder / "test_batch")]])
    monkeypatch.setattr(CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names",
                                          "md5": md5(folder / "batches.meta")})
    yield serve
    server.shutdown()


def test_download_fetches_and_verifies_the_archive(tmp_path, archive_server):
    from autograder.data import download

    source = download(tmp_path / "root")
    assert source.layout is Layout.BATCHES and source.root == (tmp_path / "root" / "cifar-10-batches-py").resolve()
    assert load(tmp_path / "root", cache_dir=tmp_path / "cache").train_images.shape == (20, 3, 32, 32)


def test_download_refuses_an_archive_with_the_wrong_checksum(tmp_path, archive_server, monkeypatch):
    from torchvision.datasets import CIFAR10

    from autograder.data import download

    monkeypatch.setattr(CIFAR10, "tgz_md5", "0" * 32)
    with pytest.raises(DataError, match="downloading CIFAR-10 into"):
        download(tmp_path / "root")


def data_info(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "autograder.cli", "data", "info", *map(str, args)],
                          capture_output=True, text=True)


def test_grade_data_info_says_what_was_found_where(tmp_path):
    folder = make_batches(tmp_path / "data")
    small = data_info("--data-dir", tmp_path / "data", "--cache-dir", tmp_path / "cache")
    # What was found is said (stdout), and that it is not the full data set: an error, exit 2.
    assert "cifar-10-batches-py" in small.stdout and "not built yet" in small.stdout, small.stdout
    assert "images: 20 training, 5 test" in small.stdout, small.stdout
    assert small.returncode == 2, (small.returncode, small.stdout, small.stderr)
    stderr = " ".join(small.stderr.split())
    assert f"CIFAR-10 at {folder.resolve()} has 20 training and 5 test images, expected 50,000 and 10,000" in stderr
    assert "point --data-dir at the full data set" in stderr  # (random labels: some classes have none, also said)
    missing = data_info("--data-dir", tmp_path / "cache")
    assert missing.returncode == 2 and "expected one of" in missing.stderr


def test_grade_data_info_warns_about_an_incomplete_image_folder(tmp_path):
    """The audit's case: a 500-image sample in the image-folder layout is found, and said to be unusable."""
    make_image_folder(tmp_path / "sample", per_class=40, test_per_class=10)
    info = data_info("--data-dir", tmp_path / "sample", "--cache-dir", tmp_path / "cache")
    assert "found: image-folder" in info.stdout and "(500 files)" in info.stdout, info.stdout
    assert "images: 400 training, 100 test (40 and 10 in each of the 10 classes)" in info.stdout, info.stdout
    assert info.returncode == 2
    assert (f"CIFAR-10 at {(tmp_path / 'sample').resolve()} has 400 training and 100 test images, expected "
            "50,000 and 10,000: point --data-dir at the full data set") in " ".join(info.stderr.split()), info.stderr
    assert not (tmp_path / "cache").exists()  # nothing decoded, nothing cached


@pytest.mark.skipif(not os.environ.get("CIFAR10_DIR"), reason="CIFAR10_DIR not set (real CIFAR-10 needed)")
def test_grade_data_info_accepts_the_full_cifar10(tmp_path):
    info = data_info("--data-dir", os.environ["CIFAR10_DIR"], "--cache-dir", tmp_path / "cache")
    assert info.returncode == 0, info.stderr
    assert "images: 50,000 training, 10,000 test (5,000 and 1,000 in each of the 10 classes)" in info.stdout


def test_images_are_counted_without_decoding_any(tmp_path, monkeypatch):
    import autograder.data as data_module

    make_image_folder(tmp_path / "folder", per_class=3, test_per_class=1)
    (tmp_path / "folder" / "train" / "cat" / "notes.txt").write_text("not an image")
    make_batches(tmp_path / "batches")
    monkeypatch.setattr(data_module, "_decode_image", lambda *_: pytest.fail("decoded an image to count it"))
    folder = locate(tmp_path / "folder")
    assert count_images(folder) == Counts((3,) * 10, (1,) * 10) == folder.counts
    batches = locate(tmp_path / "batches")
    assert batches.counts is None
    from_batches = count_images(batches, tmp_path / "cache")
    assert sum(from_batches.train) == 20 and sum(from_batches.test) == 5
    monkeypatch.undo()
    data = load(tmp_path / "batches", cache_dir=tmp_path / "cache")
    assert data.counts == from_batches
    monkeypatch.setattr(data_module, "_read_batch", lambda *_: pytest.fail("read the batches although cached"))
    assert count_images(batches, tmp_path / "cache") == from_batches  # from the cached labels
    assert load(tmp_path / "folder", cache_dir=tmp_path / "cache").counts == folder.counts


def test_shortfall_says_what_is_missing_and_what_to_do(tmp_path):
    full = Counts((5000,) * 10, (1000,) * 10)
    assert shortfall(full, tmp_path) is None
    assert shortfall(Counts((6000,) * 10, (1000,) * 10), tmp_path) is None  # more is not less
    assert shortfall(Counts((50,) * 10, (10,) * 10), tmp_path) == (
        f"CIFAR-10 at {tmp_path} has 500 training and 100 test images, expected 50,000 and 10,000: "
        "point --data-dir at the full data set")
    assert shortfall(Counts((50,) * 10, (10,) * 10), tmp_path, train_images=500, test_images=100) is None
    no_trucks = Counts((5000,) * 10, (1000,) * 9 + (0,))
    assert shortfall(no_trucks, tmp_path) == (
        f"CIFAR-10 at {tmp_path} has 50,000 training and 9,000 test images, expected 50,000 and 10,000; "
        "no test images of truck: point --data-dir at the full data set")
    lopsided = Counts((4000,) + (5200,) * 9, (1000,) * 10)  # enough in all, one class short
    assert shortfall(lopsided, tmp_path) == (
        f"CIFAR-10 at {tmp_path} has fewer than 5,000 training images of airplane (4,000): "
        "point --data-dir at the full data set")


def test_describe_lists_what_it_found_before_refusing_a_sample(tmp_path):
    make_image_folder(tmp_path, per_class=1)
    lines = []
    with pytest.raises(DataError, match="has 10 training and 10 test images, expected 50,000 and 10,000"):
        for line in describe(tmp_path, tmp_path / "cache"):
            lines.append(line)
    assert [line.split(":")[0] for line in lines] == ["data folder", "found", "images", "cache"]
