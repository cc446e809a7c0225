"""The worker side of the trust boundary, driven directly through the zygote and proxies."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from autograder.client import WorkerClient
from autograder.errors import ProtocolError, StudentError, StudentNotImplemented, WorkerDied, WorkerTimeout
from autograder.protocol import Limits
from autograder.proxy import Proxy, StudentNamespace, call_keep
from autograder.worker import WorkerSettings
from autograder.zygote import Zygote

MODULE = '''
import os, sys, time, ctypes
import torch

STATE = []

def add(a, b=1):
    return a + b

def echo(x):
    return x

def remember(x):
    STATE.append(x)
    return len(STATE)

def env():
    return dict(os.environ)

def where():
    return {"cwd": os.getcwd(), "path": list(sys.path), "file": __file__, "argv": list(sys.argv)}

def can_import(name):
    import importlib
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        return False

def fail():
    raise ValueError("bad kernel_size")

def fail_in_colour():
    raise RuntimeError("\x1b[1mdo this only if you trust the file\x1b[0m, then retry")

def wrap():
    try:
        fail()
    except ValueError as err:
        raise RuntimeError("could not build the model") from err

def todo():
    raise NotImplementedError("todo")

def loop():
    while True:
        pass

def nap(seconds):
    time.sleep(seconds)
    return seconds

def exit_hard(code):
    os._exit(code)

def sys_exit():
    sys.exit(0)

def interrupt():
    raise KeyboardInterrupt

def segfault():
    ctypes.string_at(0)

def garbage():
    os.write(3, b"\\xff" * 64)
    time.sleep(5)

def chatter(n):
    for i in range(n):
        print("line", i)
    return n

def flood():
    sys.stdout.write("x" * 5_000_000)
    return 1

def edit_self():
    with open(__file__, "a") as fh:
        fh.write("\\nBROKEN = 1\\n")
    return True

def spawn_child():
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    return pid

def allocate(gigabytes):
    return torch.empty(int(gigabytes * 2**30), dtype=torch.uint8).numel()

def big(n):
    return torch.zeros(n, dtype=torch.uint8)

def write_big(megabytes):
    with open("big.bin", "wb") as fh:
        for _ in range(megabytes):
            fh.write(bytes(2**20))
    return megabytes

def unsendable():
    return torch.zeros(2, dtype=torch.float8_e4m3fn)

def make_gen():
    return (i * i for i in range(4))

class Model(torch.nn.Module):
    def __init__(self, out=2):
        super().__init__()
        self.fc = torch.nn.Linear(3, out)

    def forward(self, x):
        return self.fc(x)

def consume(loader, device):
    seen = 0
    for inputs, labels in loader:
        inputs = inputs.to(device)
        seen += len(labels)
    return seen

def train_like(loader, device, model, criterion, mode):
    """A loop that moves its batches in one of several ways, some wrong."""
    for inputs, labels in loader:
        if mode == "cast_then_move":
            inputs, labels = inputs.float().to(device), labels.long().to(device)
        elif mode == "discard":
            inputs.to(device)
            labels.to(device)
        elif mode == "slice":  # the same batches, never moved
            inputs, labels = inputs[:], labels[:]
        if criterion.reduction != "mean":  # the wrapped loss's attribute
            raise ValueError(criterion.reduction)
        criterion(model(inputs), labels)


def save(model, path):
    torch.save(model.state_dict(), path)

def grads(model, x):
    model(x).sum().backward()
    return [p.grad for p in model.parameters()]
'''


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    modules = tmp_path_factory.mktemp("modules")
    (modules / "mod.py").write_text(MODULE)
    scratch = tmp_path_factory.mktemp("scratch")
    os.environ["GRADER_SECRET_TOKEN"] = "s3cret"
    z = Zygote.start(WorkerSettings(str(modules), str(scratch), memory_mb=4096))
    z.scratch = str(scratch)
    yield z
    z.stop()
    del os.environ["GRADER_SECRET_TOKEN"]


@pytest.fixture
def namespace(zygote):
    """``namespace(call_seconds=..)`` -> (client, student namespace) on a fresh worker."""
    clients = []

    def make(call_seconds=30.0, test_seconds=120.0, limits=Limits(), gpu=False):
        client = WorkerClient(zygote, call_seconds, test_seconds, limits, gpu=gpu)
        clients.append(client)
        return client, StudentNamespace(client, ("mod",))

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def worker(namespace):
    """``worker(...)`` -> (client, proxy of the module ``mod``)."""

    def make(**kwargs):
        client, ns = namespace(**kwargs)
        return client, ns.mod

    return make


def test_calls_return_plain_values(worker):
    _, mod = worker()
    assert mod.add(2, b=5) == 7
    x = torch.randn(2, 3)
    got = mod.echo({"x": x, "n": [1, (2, 3.5)], "s": "hi"})
    assert torch.equal(got["x"], x) and got["n"] == [1, (2, 3.5)] and got["s"] == "hi"


def test_objects_come_back_as_proxies_that_work_like_the_object(worker):
    _, mod = worker()
    model = mod.Model(out=4)
    assert isinstance(model, Proxy) and repr(model) == "<student Model Model>"
    assert model.fc.weight.shape == (4, 3) and model.training is True
    x = torch.randn(5, 3)
    sd = model.state_dict()
    ref = torch.nn.Linear(3, 4)
    ref.load_state_dict({k.removeprefix("fc."): v for k, v in sd.items()})
    torch.testing.assert_close(model(x), ref(x))
    model.eval()
    assert model.training is False
    assert [n for n, _ in model.named_parameters()] == ["fc.weight", "fc.bias"]
    assert list(mod.make_gen()) == [0, 1, 4, 9]


def test_proxies_can_be_passed_back_as_arguments(worker):
    _, mod = worker()
    model = mod.Model()
    grads = mod.grads(model, torch.ones(1, 3))
    assert grads[0].shape == (2, 3) and torch.equal(grads[1], torch.ones(2))


def test_trusted_objects_cannot_be_passed_to_student_code(worker):
    _, mod = worker()
    with pytest.raises(ProtocolError, match="only plain data"):
        mod.echo(lambda: 1)


def test_student_exceptions_carry_type_message_and_only_student_frames(worker):
    _, mod = worker()
    with pytest.raises(StudentError) as info:
        mod.fail()
    exc = info.value
    assert exc.is_a("ValueError") and exc.is_a("Exception") and exc.message == "bad kernel_size"
    assert 'File "mod.py"' in exc.traceback and "autograder" not in exc.traceback
    assert exc.where == "mod.fail(...)"
    assert exc.causes == []
    with pytest.raises(StudentError) as info:
        mod.wrap()
    wrapped = info.value  # what it was raised from crosses too, as class names
    assert wrapped.is_a("RuntimeError") and not wrapped.is_a("ValueError")
    assert wrapped.came_from("ValueError") and not wrapped.came_from("KeyError")
    with pytest.raises(StudentError) as info:
        mod.fail_in_colour()  # terminal codes (PyTorch's load errors have them) are not feedback
    assert info.value.message == "do this only if you trust the file, then retry"


def test_not_implemented_is_its_own_outcome(worker):
    _, mod = worker()
    with pytest.raises(StudentNotImplemented):
        mod.todo()


@pytest.mark.parametrize("func", ["sys_exit", "interrupt"])
def test_systemexit_and_keyboardinterrupt_are_student_errors_and_the_worker_lives(worker, func):
    _, mod = worker()
    with pytest.raises(StudentError):
        getattr(mod, func)()
    assert mod.add(1) == 2


def test_a_missing_module_is_named(zygote):
    client = WorkerClient(zygote, 5, 30)
    try:
        with pytest.raises(StudentError, match="your submission has no other.py"):
            StudentNamespace(client, ("other",)).other
    finally:
        client.close()


def test_an_infinite_loop_times_out_and_every_later_call_fails_the_same_way(worker):
    _, mod = worker(call_seconds=1)
    start = time.monotonic()
    with pytest.raises(WorkerTimeout) as first:
        mod.loop()
    assert time.monotonic() - start < 5
    assert "mod.loop" in first.value.reason and "1 s" in first.value.reason
    with pytest.raises(WorkerTimeout) as again:
        mod.add(1)
    assert again.value.reason == first.value.reason


def test_the_test_time_budget_bounds_many_short_calls(worker):
    _, mod = worker(call_seconds=5, test_seconds=1.5)
    with pytest.raises(WorkerTimeout, match="test's time limit"):
        for _ in range(10):
            mod.nap(0.4)


@pytest.mark.parametrize("func, args, reason", [
    ("exit_hard", (0,), "ended itself with exit code 0"),
    ("exit_hard", (3,), "ended itself with exit code 3"),
    ("segfault", (), "segmentation fault"),
    ("garbage", (), "malformed reply"),
])
def test_a_dead_worker_is_reported_with_the_reason(worker, func, args, reason):
    _, mod = worker()
    with pytest.raises(WorkerDied, match=reason) as info:
        getattr(mod, func)(*args)
    with pytest.raises(WorkerDied) as again:
        mod.add(1)
    assert again.value.reason == info.value.reason


def test_the_environment_is_scrubbed(worker):
    _, mod = worker()
    env = mod.env()
    assert "GRADER_SECRET_TOKEN" not in env and os.environ["GRADER_SECRET_TOKEN"] == "s3cret"
    assert env["OMP_NUM_THREADS"] == "1"
    assert env["CUDA_VISIBLE_DEVICES"] == ""  # a unit test sees no GPU, on any grader
    _, gpu = worker(gpu=True)  # an accuracy test's worker may use them: those the grader was given
    assert gpu.env().get("CUDA_VISIBLE_DEVICES") == os.environ.get("CUDA_VISIBLE_DEVICES")


def test_the_worker_sees_a_private_copy_and_not_the_graders_checkout(worker, repo):
    _, mod = worker()
    info = mod.where()
    assert Path(info["file"]).parent == Path(info["cwd"])
    assert info["argv"] == ["main.py"]  # not the test process's arguments (its configuration, its paths)
    assert str(repo) not in info["path"] and not any(p in ("", ".") for p in info["path"])
    assert not mod.can_import("solutions.ex2_lenet") and not mod.can_import("grading_tests.strategies")


def test_each_worker_starts_from_pristine_modules(worker):
    _, first = worker()
    assert first.remember("a") == 1 and first.remember("b") == 2
    assert first.edit_self() is True
    _, second = worker()
    assert second.remember("c") == 1
    with pytest.raises(StudentError, match="BROKEN"):
        second.BROKEN


def test_printed_output_is_kept_as_a_bounded_tail(worker):
    client, mod = worker()
    assert mod.chatter(5) == 5
    assert "line 4" in client.printed()
    assert mod.flood() == 1
    assert 0 < len(client.printed().encode()) <= 4096


def test_replies_over_the_size_cap_stop_the_worker(worker):
    _, mod = worker(limits=Limits(max_frame_bytes=1000))
    assert mod.big(10).shape == (10,)
    with pytest.raises(WorkerDied, match="cap"):
        mod.big(5000)


def test_memory_over_the_limit_fails_the_allocation_not_the_machine(worker):
    _, mod = worker()
    with pytest.raises(StudentError):
        mod.allocate(8)  # 8 GiB against a 4 GiB address-space limit
    assert mod.allocate(0.1) > 0


def test_closing_a_worker_kills_the_processes_it_started(worker):
    client, mod = worker()
    child = mod.spawn_child()
    client.close()
    time.sleep(0.2)
    stat = Path(f"/proc/{child}/stat")
    assert not stat.exists() or stat.read_text().split(")")[1].split()[0] == "Z"


def test_call_keep_and_worker_libraries_build_an_optimizer_over_the_students_parameters(namespace):
    _, ns = namespace()
    model = ns.mod.Model()
    before = model.state_dict()
    params = call_keep(model.parameters)
    assert isinstance(params, Proxy)
    optimizer = ns.torch.optim.SGD(params, lr=0.5)
    loss = ns.tools.train_step(model, optimizer, torch.randn(4, 3), torch.tensor([0, 1, 1, 0]))
    after = model.state_dict()
    assert isinstance(loss, float) and not torch.equal(before["fc.weight"], after["fc.weight"])
    assert ns.tools.param_flags(model) == {"fc.weight": True, "fc.bias": True}


def test_the_recording_loader_sees_which_batches_were_moved(namespace):
    _, ns = namespace()
    loader = ns.tools.RecordingLoader(torch.randn(7, 3), torch.arange(7), 3)
    assert ns.mod.consume(loader, "cpu") == 7
    assert loader.moves() == [(0, "inputs", "cpu"), (1, "inputs", "cpu"), (2, "inputs", "cpu")]


@pytest.mark.parametrize("mode, unmoved", [("cast_then_move", []),
                                           ("discard", [[b, r] for b in range(3) for r in ("inputs", "labels")]),
                                           ("slice", [[b, r] for b in range(3) for r in ("inputs", "labels")])])
def test_probes_see_batches_used_without_their_moved_copy(namespace, mode, unmoved):
    _, ns = namespace()
    loader = ns.tools.RecordingLoader(torch.randn(7, 3), torch.arange(7) % 2, 3)
    model = ns.tools.Probe(ns.torch.nn.Linear(3, 2))
    criterion = ns.tools.RecordingCriterion(ns.torch.nn.CrossEntropyLoss())
    ns.mod.train_like(loader, "cpu:0", model, criterion, mode)
    moves = [list(m) for m in loader.moves()]
    if mode != "slice":  # the cast does not hide the move
        assert all([b, "inputs", "cpu:0"] in moves for b in range(3))
    seen = sorted([list(u) for u in model.unmoved] + [list(u) for u in criterion.unmoved])
    assert seen == sorted(unmoved)


def test_files_the_student_wrote_come_back_as_bytes_for_the_trusted_side_to_decode(namespace, tmp_path):
    import io

    _, ns = namespace()
    model = ns.mod.Model()
    ns.mod.save(model, "ckpt.pt")
    data = ns.tools.read_bytes("ckpt.pt")
    state = torch.load(io.BytesIO(data), weights_only=True)
    assert torch.equal(state["fc.weight"], model.state_dict()["fc.weight"])


def test_a_result_the_protocol_cannot_carry_is_reported_and_the_worker_lives(worker):
    _, mod = worker()
    with pytest.raises(StudentError, match="cannot receive the Tensor") as info:
        mod.unsendable()
    assert info.value.is_a("UnsendableResult") and mod.add(1) == 2


def test_a_missing_attribute_is_a_student_error_and_hasattr_works(worker):
    _, mod = worker()
    model = mod.Model()
    assert hasattr(model, "fc") and not hasattr(model, "conv1")
    with pytest.raises(StudentError, match="has no attribute 'conv1'"):
        model.conv1


def test_files_over_the_size_limit_fail_the_write_and_the_folder_is_removed(zygote):
    client = WorkerClient(zygote, 20, 60)
    mod = StudentNamespace(client, ("mod",)).mod
    assert mod.write_big(10) == 10
    with pytest.raises(StudentError, match="File too large"):
        mod.write_big(400)
    home = Path(mod.where()["cwd"])
    assert home.is_dir()
    client.close()
    assert not home.exists()


def test_build_on_meta_builds_without_weights_and_falls_back_where_code_reads_values():
    import torch
    from torch import nn

    from autograder.worker_tools import DownloadForbidden, build_on_meta

    light = build_on_meta(nn.Linear, 4096, 4096)
    assert light.weight.device.type == "meta" and tuple(light.weight.shape) == (4096, 4096)

    def reads_a_value(n: int) -> nn.Module:
        layer = nn.Linear(n, 2)
        assert float(layer.weight.abs().sum()) > 0  # impossible on meta: built for real instead
        return layer

    real = build_on_meta(reads_a_value, 3)
    assert real.weight.device.type == "cpu" and torch.isfinite(real.weight).all()
    with pytest.raises(ValueError):  # an error of the student's code itself still surfaces
        build_on_meta(lambda: (_ for _ in ()).throw(ValueError("bad finetune")))

    built = []

    def downloads(n: int) -> nn.Module:  # as torchvision does: build, then fetch the weights
        layer = nn.Linear(n, 2)
        built.append(layer.weight.device.type)
        raise DownloadForbidden("tried to download weights")

    with pytest.raises(DownloadForbidden):  # reached on meta: not built a second time for real
        build_on_meta(downloads, 3)
    assert built == ["meta"]


def test_build_filled_gives_cheap_finite_weights_and_keeps_flags():
    import torch
    from torch import nn

    from autograder.worker_tools import build_filled

    def frozen_body(n: int) -> nn.Module:
        model = nn.Sequential(nn.Linear(300, n), nn.BatchNorm1d(n), nn.Linear(n, 3))
        model[0].requires_grad_(False)
        return model

    model = build_filled(frozen_body, 70000, seed=5)  # 21 M weights: more than one tiled block
    params = dict(model.named_parameters())
    assert all(p.device.type == "cpu" and torch.isfinite(p).all() for p in params.values())
    assert [n for n, p in params.items() if not p.requires_grad] == ["0.weight", "0.bias"]
    bound = 1 / 300 ** 0.5  # +-1/sqrt(fan_in), not all equal
    assert params["0.weight"].abs().max() <= bound and params["0.weight"].std() > bound / 4
    torch.testing.assert_close(model[1].running_var, torch.ones(70000))
    assert float(model[1].running_mean.abs().sum()) == 0 and int(model[1].num_batches_tracked) == 0
    again = build_filled(frozen_body, 70000, seed=5)
    assert torch.equal(again[2].weight, model[2].weight)  # seeded: the same weights every time
    assert not torch.equal(build_filled(frozen_body, 70000, seed=6)[2].weight, model[2].weight)

    def reads_a_value() -> nn.Module:
        layer = nn.Linear(3, 2)
        layer.weight.data.mul_(float(layer.weight.abs().sum() > 0))  # cannot run on meta
        return layer

    assert build_filled(reads_a_value).weight.device.type == "cpu"  # built for real instead

    class KeepsATensor(nn.Module):  # a plain tensor attribute: to_empty would leave it on meta
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)
            self.scale = torch.full((2,), 0.5)

        def forward(self, x):
            return self.fc(x) * self.scale

    kept = build_filled(KeepsATensor)
    assert kept.scale.device.type == "cpu" and kept(torch.ones(1, 3)).shape == (1, 2)

    class Normalises(nn.Module):  # a constant no state_dict restores: the fill must not touch it
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)
            self.register_buffer("mean", torch.full((3,), 0.25), persistent=False)

    torch.testing.assert_close(build_filled(Normalises).mean, torch.full((3,), 0.25))
    with pytest.raises(ValueError):
        build_filled(lambda: (_ for _ in ()).throw(ValueError("bad head")))


def test_nn_class_names_the_torch_nn_class_a_module_is():
    from torch import nn

    from autograder.worker_tools import nn_class

    class Stack(nn.Sequential):
        pass

    class Block(nn.Module):
        pass

    class MyConv(nn.Conv2d):
        pass

    assert nn_class(Stack(nn.ReLU())) == "Sequential" and nn_class(nn.Sequential()) == "Sequential"
    assert nn_class(Block()) == "Module" and nn_class(nn.ModuleList()) == "ModuleList"
    assert nn_class(MyConv(1, 1, 1)) == "Conv2d" and nn_class([nn.ReLU()]) == "list"


def test_module_types_can_name_the_torch_nn_classes():
    from torch import nn

    from autograder.worker_tools import module_types

    class Head(nn.Linear):
        pass

    model = nn.Sequential(nn.ReLU(), Head(2, 3))
    assert module_types(model)[1:] == [("0", "ReLU"), ("1", "Head")]
    assert module_types(model, as_nn=True) == [("", "Sequential"), ("0", "ReLU"), ("1", "Linear")]


def test_layer_settings_name_subclasses_of_torch_layers_as_the_layer():
    from torch import nn

    from autograder.worker_tools import layer_settings

    class Conv3x3(nn.Conv2d):
        pass

    class Block(nn.Module):
        pass

    rows = layer_settings(nn.Sequential(Conv3x3(3, 8, 3, padding=1), nn.ReLU(), Block()))
    assert [kind for _, kind, _ in rows] == ["Conv2d", "ReLU", "Block"]
    assert rows[0][2]["kernel_size"] == (3, 3) and rows[0][2]["bias"] is True


def test_write_bytes_and_file_exists_hand_files_to_the_workers_folder(tmp_path, monkeypatch):
    from autograder.worker_tools import file_exists, read_bytes, write_bytes

    monkeypatch.chdir(tmp_path)
    assert not file_exists("given.pt")
    write_bytes("given.pt", b"\x00checkpoint")
    assert file_exists("given.pt") and read_bytes("given.pt") == b"\x00checkpoint"


def test_builtin_kind_sees_a_subclass_of_list_as_a_list():
    from autograder.worker_tools import builtin_kind

    class ParameterGroup(list):
        pass

    assert builtin_kind(ParameterGroup([1])) == builtin_kind([]) == "list"
    assert builtin_kind(p for p in ()) == "generator" and builtin_kind(filter(None, [])) == "filter"


def test_a_zygote_imports_matplotlib_once_when_the_submission_uses_it(tmp_path):
    # pyplot costs half a second to import: in every test's worker for a notebook whose shared
    # cell imports it, unless the zygote imported it before forking them
    pytest.importorskip("matplotlib")
    import sys

    record = "import sys\nPRELOADED = 'matplot' 'lib.pyplot' in sys.modules\n"  # the text must not name it
    inherited = "matplotlib.pyplot" in sys.modules  # a non-sandboxed zygote is a fork of this process
    for name, text, expected in (("plots", record + "import matplotlib.pyplot as plt\n", True),
                                 ("plain", record, inherited)):
        modules = tmp_path / name
        modules.mkdir()
        (modules / "mod.py").write_text(text)
        z = Zygote.start(WorkerSettings(str(modules), str(tmp_path)))
        client = WorkerClient(z, 30.0, 120.0, Limits())
        try:
            assert StudentNamespace(client, ("mod",)).mod.PRELOADED is expected, name
        finally:
            client.close()
            z.stop()
