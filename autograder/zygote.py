"""Fork servers: processes that imported torch once and fork children on request.

The *zygote* is forked right after ``import torch, torchvision`` and before anything secret is
loaded; it forks one fresh worker per test. Forking from it costs a few milliseconds, where a new
interpreter would pay the 3-5 s torch import. It never runs a torch op, so its children do not
inherit a started OpenMP pool (which hangs a forked child on its first parallel op). On request
it also forks a *sub-zygote* with other worker settings (the batch server keeps one zygote for a
whole batch and gives each submission its own sub-zygote, its own modules and its own channel).

Every fork server speaks the same small protocol over a SOCK_SEQPACKET pair (:class:`ForkClient`):
``start`` sends a JSON request with file descriptors (SCM_RIGHTS) and gets the child's pid back;
``wait`` returns how a child ended, so deaths get a precise reason; ``kill`` ends a child that
has not been reaped yet (never a recycled pid).
"""

from __future__ import annotations

import gc
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

from autograder.cgroups import Cgroup
from autograder.namespaces import enter_sandbox
from autograder.sandbox import (NOBODY, SANDBOX_ENV, SANDBOX_HOME, TMPFS_BYTES, Sandbox, SandboxMode, bwrap_argv,
                                sandbox_paths)
from autograder.worker import WorkerSettings, set_parent_death_signal, worker_home, worker_main

__all__ = ["ForkClient", "Zygote", "serve_forks", "fork_server", "freeze_heap"]

StartChild = Callable[[dict, list], int]  # (request, received fds) -> pid of the forked child


class ForkClient:
    """The requesting side of a fork server (thread-safe: one request at a time)."""

    def __init__(self, pid: int, sock: socket.socket):
        self.pid = pid
        self.sock = sock
        self._lock = threading.Lock()

    def _ask(self, request: dict, fds: list[int] = ()) -> dict:
        with self._lock:
            socket.send_fds(self.sock, [json.dumps(request).encode()], list(fds))
            data = self.sock.recv(1 << 16)
        if not data:
            raise RuntimeError("the fork server is gone")
        reply = json.loads(data)
        if "error" in reply:
            raise RuntimeError(f"the fork server refused: {reply['error']}")
        return reply

    def fork(self, request: dict, fds: list[int] = ()) -> int:
        """Ask for a child; ``fds`` travel with the request (and are the child's to keep)."""
        return int(self._ask({"op": "start", **request}, fds)["pid"])

    def wait(self, pid: int, timeout: float = 2.0) -> dict[str, Any]:
        """``{"exit": code}``, ``{"signal": n}`` or ``{"running": true}`` after ``timeout``."""
        return self._ask({"op": "wait", "pid": pid, "timeout": timeout})

    def kill(self, pid: int, group: bool = False) -> None:
        """SIGKILL a child of the server that has not been reaped yet (a no-op otherwise), with
        its whole process group when ``group`` (pids are the server's own: it may live in a
        sandbox's PID namespace)."""
        self._ask({"op": "kill", "pid": pid, "group": group})

    def stop(self) -> None:
        try:
            self.sock.close()
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (OSError, ChildProcessError):
            pass


class Zygote(ForkClient):
    """Trusted-side handle on a worker zygote: forked from this process (in its own namespaces
    for ``sandbox`` ns), or (bwrap) a fresh interpreter inside bubblewrap; its whole tree in
    ``cgroup`` when there is one."""

    def __init__(self, pid: int, sock: socket.socket, cgroup: Cgroup | None = None,
                 proc: subprocess.Popen | None = None):
        super().__init__(pid, sock)
        self.cgroup = cgroup
        self.proc = proc

    @classmethod
    def start(cls, settings: WorkerSettings, sandbox: Sandbox | None = None,
              cgroup: Cgroup | None = None) -> "Zygote":
        """Start a zygote (this process must hold nothing secret yet unless ``sandbox`` is bwrap)."""
        if sandbox is not None and sandbox.mode is SandboxMode.bwrap:
            return cls._start_bwrap(settings, cgroup)
        in_namespaces = sandbox is not None and sandbox.mode is SandboxMode.ns

        def serve(sock: socket.socket) -> None:
            if cgroup is not None:
                cgroup.add()
            preload_for(settings.modules_dir)
            freeze_heap()
            if in_namespaces:
                _serve_in_namespaces(settings, sock)
            _become_subreaper()
            serve_forks(sock, _zygote_child(settings), kill_strays=True, on_reaped=_home_remover(settings))

        return cls(*fork_server(serve), cgroup=cgroup)

    @classmethod
    def _start_bwrap(cls, settings: WorkerSettings, cgroup: Cgroup | None) -> "Zygote":
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        inside = replace(settings, scratch_dir=SANDBOX_HOME)
        argv = bwrap_argv(settings.modules_dir, [sys.executable, "-I", "-m", "autograder.zygote",
                                                  json.dumps(asdict(inside)), str(theirs.fileno())])
        proc = subprocess.Popen(argv, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=(lambda: cgroup.add()) if cgroup is not None else None)
        theirs.close()
        return cls(proc.pid, ours, cgroup=cgroup, proc=proc)

    def spawn(self, sock_fd: int, out_fd: int, gpu: bool = False) -> int:
        """Fork one worker; it talks over ``sock_fd`` and prints into ``out_fd``; it sees the GPUs
        only with ``gpu`` (see :func:`autograder.worker.worker_main`)."""
        return self.fork({"kind": "worker", "gpu": bool(gpu)}, [sock_fd, out_fd])

    def sub_zygote(self, settings: WorkerSettings, cgroup: Cgroup | None = None,
                   sandbox: Sandbox | None = None) -> "Zygote":
        """Fork a zygote of this zygote with other settings (one per submission in a batch), in
        its own namespaces for ``sandbox`` ns."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        request = {"kind": "zygote", "settings": asdict(settings),
                   "cgroup": [str(f) for f in cgroup.folders] if cgroup else None,
                   "namespaces": sandbox is not None and sandbox.mode is SandboxMode.ns}
        try:
            pid = self.fork(request, [theirs.fileno()])
        finally:
            theirs.close()
        return Zygote(pid, ours, cgroup=cgroup)

    def oom_kills(self) -> int:
        return self.cgroup.oom_kills() if self.cgroup is not None else 0

    def stop(self) -> None:
        """End the zygote and everything it started (the whole cgroup, where there is one)."""
        ForkClient.stop(self)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.cgroup is not None:
            self.cgroup.remove()


def freeze_heap() -> None:
    """Call before forking children from a warm process: its objects (torch's, a third of a million)
    move to the collector's permanent generation, so a child's garbage collections neither scan
    them nor touch their pages (which would copy them: copy-on-write)."""
    gc.freeze()


def _become_subreaper() -> None:
    """Orphans of our workers (a ``setsid`` grandchild) become our children, to be killed."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _home_remover(settings: WorkerSettings) -> Callable[[int], None]:
    def remove(pid: int) -> None:
        from autograder.runner import chmod_writable

        home = worker_home(settings.scratch_dir, pid)
        if home.exists():
            chmod_writable(home)
            shutil.rmtree(home, ignore_errors=True)

    return remove


def _serve_in_namespaces(settings: WorkerSettings, sock: socket.socket) -> None:
    """Serve forks as PID 1 of a sandbox built here (:mod:`autograder.namespaces`); never returns."""
    inside = replace(settings, scratch_dir=SANDBOX_HOME)

    def serve() -> None:
        serve_forks(sock, _zygote_child(inside), kill_strays=True, on_reaped=_home_remover(inside))

    enter_sandbox(sandbox_paths(settings.modules_dir), SANDBOX_HOME, TMPFS_BYTES, NOBODY, dict(SANDBOX_ENV), serve)


def fork_server(serve: Callable[[socket.socket], None]) -> tuple[int, socket.socket]:
    """Fork a child that runs ``serve(sock)`` with every other descriptor closed; (pid, our end)."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            parent.close()
            set_parent_death_signal()
            keep = child.fileno()
            os.closerange(3, keep)
            os.closerange(keep + 1, 1 << 16)
            serve(child)
        except BaseException:
            code = 70
        os._exit(code)
    child.close()
    return pid, parent


def preload_for(modules_dir: str) -> None:
    """Import once, here, what the submission's modules import at their top level and takes long
    to import: matplotlib's pyplot (half a second; a notebook's shared cell brings it into every
    exercise module), when a module mentions matplotlib and it is installed. Every worker forked
    from this zygote inherits it instead of paying for it in every test. Only the file texts are
    read; nothing of the submission runs here."""
    try:
        mentioned = any(b"matplotlib" in path.read_bytes()[:1 << 20] for path in Path(modules_dir).glob("*.py"))
    except OSError:
        return
    if mentioned:
        try:
            import matplotlib

            matplotlib.use("Agg")  # no display where grading runs
            import matplotlib.pyplot  # noqa: F401
        except Exception:  # noqa: BLE001 - not installed, or broken: the student's import will say so
            pass


def _zygote_child(settings: WorkerSettings) -> StartChild:
    def start(request: dict, fds: list) -> int:
        if request.get("kind") == "zygote":
            sub = WorkerSettings(**request["settings"])
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    set_parent_death_signal()
                    if request.get("cgroup"):
                        for folder in request["cgroup"]:
                            (Path(folder) / "cgroup.procs").write_text(str(os.getpid()))
                    channel = os.dup2(fds[0], 3)
                    os.closerange(4, 1 << 16)  # not the parent's channel, not other requests' fds
                    preload_for(sub.modules_dir)
                    if request.get("namespaces"):
                        _serve_in_namespaces(sub, socket.socket(fileno=channel))
                    serve_forks(socket.socket(fileno=channel), _zygote_child(sub), kill_strays=True,
                                on_reaped=_home_remover(sub))
                except BaseException:
                    code = 70
                os._exit(code)
            return pid
        pid = os.fork()
        if pid == 0:
            worker_main(settings, fds[0], fds[1], gpu=request.get("gpu") is True)
        return pid

    return start


def _strays(known: set[int]) -> list[int]:
    """Our children that we did not fork: orphans reparented to us (we are a subreaper)."""
    found: list[int] = []
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children") as fh:
                found += [int(p) for p in fh.read().split()]
    except OSError:
        return []
    return [p for p in found if p not in known]


def _until_exit(pid: int, timeout: float) -> None:
    """Sleep until child ``pid`` has exited (it is then reapable) or ``timeout`` passed: at once
    through a pidfd where the kernel has them (Linux 5.3), else by polling."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        time.sleep(min(timeout, 0.002))
        return
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


def serve_forks(sock: socket.socket, start_child: StartChild, kill_strays: bool = False,
                on_reaped: Callable[[int], None] | None = None) -> None:
    """Answer ``start``/``wait``/``kill`` requests on ``sock`` until it closes.

    ``kill_strays``: SIGKILL every child this server did not start (a zygote is a subreaper, so
    those are orphaned grandchildren of its workers). ``on_reaped(pid)`` runs for each child reaped."""
    statuses: dict[int, dict] = {}
    children: set[int] = set()

    def reap() -> None:
        if kill_strays:
            for pid in _strays(children):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in children:
                children.discard(pid)
                statuses[pid] = ({"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status)
                                 else {"exit": os.WEXITSTATUS(status)})
                if on_reaped is not None:
                    on_reaped(pid)

    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 8)
        except OSError:
            return
        if not msg:
            return
        reap()
        try:
            request = json.loads(msg)
            op = request["op"]
            if op == "start":
                pid = start_child(request, fds)
                children.add(pid)
                reply: dict = {"pid": pid}
            elif op == "wait":
                pid, deadline = request["pid"], time.monotonic() + float(request["timeout"])
                while pid in children and time.monotonic() < deadline:
                    _until_exit(pid, min(0.05, max(0.0, deadline - time.monotonic())))
                    reap()
                reply = statuses.pop(pid, {"running": True} if pid in children else {"exit": None})
            elif op == "kill":
                if request["pid"] in children:
                    if request.get("group"):
                        try:
                            os.killpg(request["pid"], signal.SIGKILL)
                        except OSError:
                            pass
                    os.kill(request["pid"], signal.SIGKILL)
                reply = {}
            else:
                reply = {"error": f"unknown request {op!r}"}
        except Exception as exc:  # a bad request must not end the server
            reply = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        finally:
            for fd in fds:
                os.close(fd)
        sock.send(json.dumps(reply).encode())


def _main(argv: list[str]) -> None:
    """``python -I -m autograder.zygote SETTINGS_JSON FD``: a zygote inside the sandbox."""
    settings = WorkerSettings(**json.loads(argv[0]))
    sock = socket.socket(fileno=int(argv[1]))
    import torch  # noqa: F401  (imported once here, so every worker inherits it)
    import torchvision  # noqa: F401
    preload_for(settings.modules_dir)

    set_parent_death_signal()
    _become_subreaper()
    freeze_heap()
    serve_forks(sock, _zygote_child(settings), kill_strays=True, on_reaped=_home_remover(settings))


if __name__ == "__main__":
    _main(sys.argv[1:])
