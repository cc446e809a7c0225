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

import json
import os
import signal
import socket
import threading
import time
from dataclasses import asdict
from typing import Any, Callable

from autograder.worker import WorkerSettings, set_parent_death_signal, worker_main

__all__ = ["ForkClient", "Zygote", "serve_forks", "fork_server"]

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

    def kill(self, pid: int) -> None:
        """SIGKILL a child of the server that has not been reaped yet (a no-op otherwise)."""
        self._ask({"op": "kill", "pid": pid})

    def stop(self) -> None:
        try:
            self.sock.close()
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (OSError, ChildProcessError):
            pass


class Zygote(ForkClient):
    """Trusted-side handle on a worker zygote."""

    @classmethod
    def start(cls, settings: WorkerSettings) -> "Zygote":
        """Fork a zygote from this process (which must hold nothing secret yet)."""
        return cls(*fork_server(lambda sock: serve_forks(sock, _zygote_child(settings))))

    def spawn(self, sock_fd: int, out_fd: int) -> int:
        """Fork one worker; it talks over ``sock_fd`` and prints into ``out_fd``."""
        return self.fork({"kind": "worker"}, [sock_fd, out_fd])

    def sub_zygote(self, settings: WorkerSettings) -> "Zygote":
        """Fork a zygote of this zygote with other settings (one per submission in a batch)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            pid = self.fork({"kind": "zygote", "settings": asdict(settings)}, [theirs.fileno()])
        finally:
            theirs.close()
        return Zygote(pid, ours)


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


def _zygote_child(settings: WorkerSettings) -> StartChild:
    def start(request: dict, fds: list) -> int:
        if request.get("kind") == "zygote":
            sub = WorkerSettings(**request["settings"])
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    set_parent_death_signal()
                    channel = os.dup2(fds[0], 3)
                    os.closerange(4, 1 << 16)  # not the parent's channel, not other requests' fds
                    serve_forks(socket.socket(fileno=channel), _zygote_child(sub))
                except BaseException:
                    code = 70
                os._exit(code)
            return pid
        pid = os.fork()
        if pid == 0:
            worker_main(settings, fds[0], fds[1])
        return pid

    return start


def serve_forks(sock: socket.socket, start_child: StartChild) -> None:
    """Answer ``start``/``wait``/``kill`` requests on ``sock`` until it closes."""
    statuses: dict[int, dict] = {}
    children: set[int] = set()

    def reap() -> None:
        for pid in list(children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                children.discard(pid)
                continue
            if done:
                children.discard(pid)
                statuses[pid] = ({"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status)
                                 else {"exit": os.WEXITSTATUS(status)})

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
                    time.sleep(0.005)
                    reap()
                reply = statuses.pop(pid, {"running": True} if pid in children else {"exit": None})
            elif op == "kill":
                if request["pid"] in children:
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
