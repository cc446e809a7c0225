"""The untrusted side: a worker process that imports the student's modules and runs calls on the
trusted side's behalf.

It holds nothing secret: it is forked (by :mod:`autograder.zygote`) from a process that imported
torch and torchvision and nothing else of the grader, it sees only a private copy of the exercise
modules, and it answers with plain data and tensors (see :mod:`autograder.protocol`). Whatever it
sends is checked by the trusted side, so nothing here needs to be tamper-proof.
"""

from __future__ import annotations

import difflib
import importlib
import os
import random
import re
import resource
import shutil
import signal
import socket
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.errors import raised_from
from autograder.namespaces import set_parent_death_signal
from autograder.notebooks import generated_from, notebook_position
from autograder.protocol import encode, decode, recv_frame, send_frame

__all__ = ["WorkerSettings", "worker_main", "worker_home", "FILE_LIMIT_BYTES"]

WORKER_SOCKET_FD = 3
FILE_LIMIT_BYTES = 256 * 2**20  # the largest file the student's code may write
OPEN_FILES = 1024  # RLIMIT_NOFILE
EXTRA_PROCESSES = 64  # RLIMIT_NPROC above what the uid already runs (DataLoader workers fit)


def _address_space_bytes() -> int:
    """This process's current virtual memory size (VmSize), 0 where /proc is not there."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _limit(kind: int, value: int) -> None:
    """Lower a resource limit (never above the hard limit the worker inherited)."""
    soft, hard = resource.getrlimit(kind)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        pass


def _processes_of(uid: int) -> int:
    """How many processes ``uid`` runs now (RLIMIT_NPROC counts them all, not just ours)."""
    count = 0
    try:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.stat(f"/proc/{entry}").st_uid == uid:
                        count += 1
                except OSError:
                    pass
    except OSError:
        pass
    return count


def worker_home(scratch_dir: str, pid: int) -> Path:
    """The private folder of the worker with this pid (the trusted side removes it afterwards)."""
    return Path(scratch_dir) / f"worker-{pid}"


@dataclass(frozen=True)
class WorkerSettings:
    modules_dir: str  # the pristine copy of the exercise modules (never modified)
    scratch_dir: str  # each worker makes its private folder under it
    memory_mb: int = 4096
    threads: int = 1


_GPU_SELECTION = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")


def _isolate(settings: WorkerSettings, sock_fd: int, out_fd: int, gpu: bool = False) -> Path:
    """Runs first in the forked child: own process group, private folder, clean environment."""
    os.setpgid(0, 0)
    set_parent_death_signal()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.dup2(sock_fd, WORKER_SOCKET_FD)
    os.closerange(WORKER_SOCKET_FD + 1, 1 << 16)  # nothing of the trusted side stays open

    home = worker_home(settings.scratch_dir, os.getpid())
    shutil.rmtree(home, ignore_errors=True)  # a folder left by an earlier process with this pid
    home.mkdir(mode=0o700)
    for src in Path(settings.modules_dir).iterdir():
        if src.suffix == ".py":
            shutil.copyfile(src, home / src.name)
    (home / "tmp").mkdir()
    os.chdir(home)

    devices = {k: os.environ[k] for k in _GPU_SELECTION if k in os.environ}  # the TA's choice of GPUs
    os.environ.clear()
    os.environ.update({"HOME": str(home), "TMPDIR": str(home / "tmp"), "PATH": "/usr/bin:/bin",
                       "LANG": "C.UTF-8", "OMP_NUM_THREADS": str(settings.threads),
                       "MKL_NUM_THREADS": str(settings.threads)})
    # no GPU in sight but for accuracy tests: code that picks "cuda" when it is available gets the
    # same grade on every grader
    os.environ.update(devices if gpu else {"CUDA_VISIBLE_DEVICES": "", "HIP_VISIBLE_DEVICES": ""})
    tempfile.tempdir = None

    # Only the student's folder, the standard library and installed packages are importable:
    # never the grader's checkout (where the solutions and hidden tests live).
    def secret(p: str) -> bool:
        return not p or p == "." or any((Path(p) / d).exists() for d in ("grading_tests", "solutions"))

    sys.path[:] = [str(home)] + [p for p in sys.path if not secret(p)]
    sys.dont_write_bytecode = True
    # as if run as a script without arguments: the test process's own arguments (its configuration,
    # with the grader's paths) are not the student's, and argparse at import then gets its defaults
    sys.argv = ["main.py"]

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _limit(resource.RLIMIT_NOFILE, OPEN_FILES)
    if os.getuid() != 0:  # the kernel does not enforce it for root: there, the pids cgroup does
        _limit(resource.RLIMIT_NPROC, _processes_of(os.getuid()) + EXTRA_PROCESSES)
    # Writing past the file-size limit fails with EFBIG (an OSError the student sees) instead of
    # killing the worker with SIGXFSZ; the folder itself is removed when the test ends.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT_BYTES, FILE_LIMIT_BYTES))
    if settings.memory_mb > 0:
        # memory_mb is what the student's code may add to the address space the worker inherited
        # (the torch import alone maps 1-3 GB of it, more in a process that ran for a while).
        limit = _address_space_bytes() + settings.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    import torch

    torch.set_num_threads(settings.threads)
    # the CPU generator: torch.manual_seed would also queue a lazy CUDA seeding, which records a
    # stack trace (about 1.5 ms of every worker's start); tools.seed seeds them all
    torch.default_generator.manual_seed(0)
    random.seed(0)
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    return home


class _Server:
    def __init__(self, sock: socket.socket, home: Path):
        self.sock = sock
        self.home = str(home)
        self.objects: dict[int, Any] = {}
        self.next_id = 1

    # -- handles ---------------------------------------------------------------------------
    def to_handle(self, obj: Any) -> dict:
        hid = self.next_id
        self.next_id += 1
        self.objects[hid] = obj
        kind = type(obj)
        return {"t": "handle", "id": hid, "type": getattr(kind, "__name__", "object"),
                "module": str(getattr(kind, "__module__", ""))}

    def from_handle(self, node: dict) -> Any:
        try:
            return self.objects[node["id"]]
        except (KeyError, TypeError):
            raise LookupError("the grader referred to an object that no longer exists") from None

    # -- requests --------------------------------------------------------------------------
    def serve(self) -> None:
        while True:
            try:
                header, blobs = recv_frame(self.sock)
            except EOFError:
                return
            for hid in header.get("release", ()):
                self.objects.pop(hid, None)
            try:
                args = decode(header.get("args", {"t": "list", "v": []}), blobs,
                              from_handle=self.from_handle)
                op = header.get("op")
                result = self.dispatch(op, header.get("target"), args)
            except BaseException as exc:  # the student's exception, reported as data
                reply, out = {"ok": False, "error": self.describe(exc)}, []
            else:
                try:
                    node, out = (self.to_handle(result), []) if op == "call_keep" else encode(result, self.to_handle)
                    reply = {"ok": True, "value": node}
                except Exception as exc:
                    reply, out = {"ok": False, "error": {
                        "types": ["UnsendableResult", "Exception"], "message": _unsendable(result, exc)}}, []
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            send_frame(self.sock, reply, out)

    def dispatch(self, op: str, target: Any, args: list) -> Any:
        if op == "import":
            return self.import_module(args[0])
        obj = self.from_handle({"id": target})
        if op == "getattr":
            return getattr(obj, args[0])
        if op == "setattr":
            setattr(obj, args[0], args[1])
            return None
        if op in ("call", "call_keep"):
            return obj(*args[0], **args[1])
        if op == "getitem":
            return obj[args[0]]
        if op == "setitem":
            obj[args[0]] = args[1]
            return None
        if op == "len":
            return len(obj)
        if op == "iter":
            return list(obj)
        if op == "contains":
            return args[0] in obj
        if op == "repr":
            return repr(obj)[:2000]
        if op == "str":
            return str(obj)[:2000]
        raise ValueError(f"unknown request {op!r}")

    def import_module(self, name: str) -> Any:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                raise ModuleNotFoundError(f"your submission has no {name}.py", name=name) from None
            if exc.name and exc.name.split(".")[0] not in sys.modules:  # a package the grader lacks
                raise ModuleNotFoundError(_missing_module(exc.name), name=exc.name).with_traceback(
                    exc.__traceback__) from None
            raise
        except FileNotFoundError as exc:  # a data file read at import: only the exercise files are here
            raise FileNotFoundError(
                exc.errno, f"{exc.strerror} (your code reads it when imported; of your submission only the "
                "exercise files are used, in a fresh folder, so do not read data or other files at the top "
                "level of the module)", exc.filename).with_traceback(exc.__traceback__) from None

    def describe(self, exc: BaseException) -> dict:
        try:
            message = _ANSI.sub("", str(exc))  # PyTorch's bold/colour codes would show raw in feedback
        except Exception:
            message = "<the exception's message could not be shown>"
        if isinstance(exc, SyntaxError) and exc.filename:
            message = (f"{_place(exc.filename, exc.lineno or 0)}: {exc.msg}"
                       + (f"\n    {exc.text.strip()}" if exc.text else ""))
        try:
            frames = [f for f in traceback.extract_tb(exc.__traceback__)
                      if f.filename.startswith(self.home + os.sep)]
            top = [f.filename for f in frames if f.name == "<module>"]  # raised while the module was imported
            if top and isinstance(exc, Exception) and not isinstance(exc, (ModuleNotFoundError, FileNotFoundError)):
                message += _top_level_note(top[-1])  # (those two say what to do in their own message)
            tb = "".join(map(_frame_text, frames))
        except Exception:
            tb = ""
        causes = [getattr(c, "__name__", "?") for inner in raised_from(exc) for c in type(inner).__mro__[:20]]
        return {"types": [getattr(c, "__name__", "?") for c in type(exc).__mro__][:20],
                "message": message[:4000], "traceback": tb[-4000:], "causes": causes[:60]}


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_INSTALLED = ("torch", "torchvision", "numpy", "PIL")  # besides the standard library, where code is graded


def _missing_module(name: str) -> str:
    """Why ``import name`` failed where the code is graded, with a near name when it is a typo."""
    top = name.split(".")[0]
    near = difflib.get_close_matches(top, sorted(set(sys.stdlib_module_names) | set(_INSTALLED)), n=1, cutoff=0.8)
    if near:
        return f"No module named '{name}' (did you mean '{near[0]}'?)"
    return (f"No module named '{name}': it is not installed where your code is graded (Python's standard "
            "library, torch, torchvision, numpy and PIL are). If it is a file of your own, only the "
            "assignment's exercise files are used: move the code you need into the exercise file")


def _top_level_note(path: str) -> str:
    """Where code that raised while its module was imported runs, and what to do about it."""
    name = os.path.basename(path).removesuffix(".py")
    notebook = generated_from(Path(path))
    where = (f"in a cell of {notebook}, and every cell that goes into {name}.py runs when the grader imports "
             "it: give the cells that download, train or plot the cell tag `skip`" if notebook else
             f"at the top level of {name}.py, which runs when the grader imports it: put downloads, training "
             "and demos under `if __name__ == \"__main__\":`")
    return f" (raised {where}; the grader has no network and no data files)"


def _place(path: str, lineno: int) -> str:
    """``ex2_lenet.py, line 12``, or ``lab.ipynb, cell 4, line 3`` for a module made from a notebook."""
    cell = notebook_position(path, lineno) if path.endswith(".py") else None
    return f"{cell[0]}, {cell[1]}, line {cell[2]}" if cell else f"{os.path.basename(path)}, line {lineno}"


def _frame_text(frame: traceback.FrameSummary) -> str:
    """One frame as Python prints it, with the file's base name (or the notebook cell) only."""
    path = frame.filename
    frame.filename = os.path.basename(path)
    text = "".join(traceback.format_list([frame]))
    cell = notebook_position(path, frame.lineno or 0)
    if cell:
        text = text.replace(f'File "{frame.filename}", line {frame.lineno},',
                            f'File "{cell[0]}", {cell[1]}, line {cell[2]},', 1)
    return text


def worker_main(settings: WorkerSettings, sock_fd: int, out_fd: int, gpu: bool = False) -> None:
    """Entry point of a freshly forked worker; never returns. Without ``gpu`` (every test but the
    accuracy tests) the worker sees no GPU, so a submission gets the same grade on a GPU machine."""
    code = 0
    try:
        home = _isolate(settings, sock_fd, out_fd, gpu)
        sock = socket.socket(fileno=WORKER_SOCKET_FD)
        _Server(sock, home).serve()
    except BaseException:  # pragma: no cover - the trusted side sees the connection close
        code = 70
    os._exit(code)


def _unsendable(result: object, exc: Exception) -> str:
    """Why the student's result cannot cross to the grader, in words that point at their code."""
    kind = type(result).__name__
    if "uninitialized parameter" in str(exc):  # torch.nn.parameter.UninitializedParameter
        return (f"the {kind} your code returned holds a parameter that is not initialised yet: a lazy layer "
                "(nn.LazyLinear, nn.LazyConv2d) only gets its shape at the first forward pass. Give every "
                "layer its sizes, e.g. nn.Linear(in_features, out_features)")
    return f"the grader cannot receive the {kind} your code returned ({exc})"

