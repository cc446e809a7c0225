"""The zygote: a process forked right after ``import torch, torchvision`` and before anything
secret is loaded, which forks one fresh worker per test on request.

Forking from it costs a few milliseconds, where a new interpreter would pay the 3-5 s torch import.
It never runs a torch op, so its children do not inherit a started OpenMP pool (which hangs a
forked child on its first parallel op). The trusted side talks to it over a SOCK_SEQPACKET pair:
``spawn`` sends the worker's socket and output pipe as file descriptors (SCM_RIGHTS) and gets the
pid back; ``wait`` returns how a worker ended, so deaths get a precise reason.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from typing import Any

from autograder.worker import WorkerSettings, set_parent_death_signal, worker_main

__all__ = ["Zygote"]


class Zygote:
    """Trusted-side handle on the zygote process."""

    def __init__(self, pid: int, sock: socket.socket):
        self.pid = pid
        self.sock = sock

    @classmethod
    def start(cls, settings: WorkerSettings) -> "Zygote":
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # the zygote
            code = 0
            try:
                parent.close()
                set_parent_death_signal()
                keep = child.fileno()
                os.closerange(3, keep)
                os.closerange(keep + 1, 1 << 16)
                _serve(child, settings)
            except BaseException:
                code = 70
            os._exit(code)
        child.close()
        return cls(pid, parent)

    def _ask(self, request: dict, fds: list[int] = ()) -> dict:
        socket.send_fds(self.sock, [json.dumps(request).encode()], list(fds))
        data = self.sock.recv(4096)
        if not data:
            raise RuntimeError("the worker zygote is gone")
        return json.loads(data)

    def spawn(self, sock_fd: int, out_fd: int) -> int:
        return int(self._ask({"op": "spawn"}, [sock_fd, out_fd])["pid"])

    def wait(self, pid: int, timeout: float = 2.0) -> dict[str, Any]:
        """``{"exit": code}``, ``{"signal": n}`` or ``{"running": true}`` after ``timeout``."""
        return self._ask({"op": "wait", "pid": pid, "timeout": timeout})

    def stop(self) -> None:
        try:
            self.sock.close()
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (OSError, ChildProcessError):
            pass


def _serve(sock: socket.socket, settings: WorkerSettings) -> None:
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
            msg, fds, _flags, _addr = socket.recv_fds(sock, 4096, 4)
        except OSError:
            return
        if not msg:
            return
        request = json.loads(msg)
        reap()
        if request["op"] == "spawn":
            pid = os.fork()
            if pid == 0:
                sock.close()
                worker_main(settings, fds[0], fds[1])
            for fd in fds:
                os.close(fd)
            children.add(pid)
            reply: dict = {"pid": pid}
        elif request["op"] == "wait":
            pid, deadline = request["pid"], time.monotonic() + float(request["timeout"])
            while pid in children and time.monotonic() < deadline:
                time.sleep(0.005)
                reap()
            reply = statuses.pop(pid, {"running": True} if pid in children else {"exit": None})
        else:
            reply = {"error": "unknown request"}
        sock.send(json.dumps(reply).encode())

