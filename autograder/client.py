"""The trusted side of one worker connection: requests, time limits, and what a death means.

One ``WorkerClient`` serves one test. It starts its worker lazily (a fork from the zygote), sends
requests, waits with the per-call and per-test time limits, and decodes replies with size caps.
Once the worker is dead or stopped, every later request raises the same ``WorkerDied`` with the
same reason, so a test fails deterministically (hypothesis never sees a "flaky" test).
"""

from __future__ import annotations

import collections
import os
import select
import signal
import socket
import time
from typing import Any, Callable

from autograder.errors import (ProtocolError, StudentAttributeError, StudentError, StudentImportError,
                               StudentNotImplemented, WorkerDied, WorkerTimeout)
from autograder.protocol import Limits, decode, encode, recv_frame, send_frame
from autograder.zygote import Zygote

__all__ = ["WorkerClient"]

_SIGNALS = {signal.SIGKILL: "was killed (SIGKILL), usually for using too much memory",
            signal.SIGSEGV: "crashed with a segmentation fault",
            signal.SIGABRT: "aborted (SIGABRT)", signal.SIGBUS: "crashed with a bus error",
            signal.SIGXCPU: "ran out of CPU time", signal.SIGXFSZ: "wrote a file over the size limit"}


class WorkerClient:
    def __init__(self, zygote: Zygote, call_seconds: float, test_seconds: float,
                 limits: Limits = Limits(), output_bytes: int = 4096, gpu: bool = False,
                 test_limit: str = ""):
        self.zygote = zygote  # it also removes each worker's private folder when it reaps it
        self.gpu = gpu  # may the worker see the GPUs (accuracy tests only)
        self.call_seconds = call_seconds
        self.test_seconds = test_seconds
        # what test_seconds is, in words, for the timeout message
        self.test_limit = test_limit or f"the test's time limit of {test_seconds:g} s"
        self.limits = limits
        self.deadline = time.monotonic() + test_seconds
        self.sock: socket.socket | None = None
        self.pid = 0
        self.oom_kills = 0  # the zygote's cgroup count when this worker started
        self.out_fd = -1
        self.output = collections.deque(maxlen=output_bytes)  # tail of the student's prints
        self.dead: WorkerDied | None = None
        self.pending_release: list[int] = []
        self.handle_factory: Callable[[dict, str], Any] | None = None

    # -- life cycle ------------------------------------------------------------------------
    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        read_fd, write_fd = os.pipe()
        self.oom_kills = self.zygote.oom_kills()
        try:
            self.pid = self.zygote.spawn(theirs.fileno(), write_fd, gpu=self.gpu)
        finally:
            theirs.close()
            os.close(write_fd)
        os.set_blocking(read_fd, False)
        self.sock, self.out_fd = ours, read_fd

    def close(self) -> None:
        """Stop the worker and everything it started; safe to call twice."""
        if self.pid:
            self._kill()
            try:
                self.zygote.wait(self.pid, timeout=1.0)
            except (OSError, RuntimeError, ValueError):
                pass
            self.pid = 0
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.out_fd >= 0:
            os.close(self.out_fd)
            self.out_fd = -1

    def _kill(self) -> None:
        """The worker and its process group (through the zygote: pids may be a sandbox's own)."""
        if self.pid:
            try:
                self.zygote.kill(self.pid, group=True)
            except (OSError, RuntimeError, ValueError):
                pass

    def printed(self) -> str:
        """The last few KB the student's code printed (stdout and stderr)."""
        self._drain()
        return bytes(self.output).decode("utf-8", "replace")

    def _drain(self) -> None:
        if self.out_fd < 0:
            return
        while True:
            try:
                chunk = os.read(self.out_fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                return
            if not chunk:
                return
            self.output.extend(chunk)

    # -- requests --------------------------------------------------------------------------
    def request(self, op: str, target: int | None, args: list, where: str, label: str | None = None) -> Any:
        """Send one request and return the decoded reply; student exceptions are raised.

        ``where`` names the request in messages ("ex2_lenet.Net(...)"); ``label`` names an object
        the reply hands back (defaults to its class name)."""
        if self.dead is not None:
            raise type(self.dead)(self.dead.reason)
        if self.sock is None:
            self._start()
        node, blobs = encode(args, to_handle=self._handle_ref)
        header = {"op": op, "target": target, "args": node}
        if self.pending_release:
            header["release"], self.pending_release = self.pending_release, []
        try:
            send_frame(self.sock, header, blobs)
        except OSError:
            self._died(where)
        reply, blobs = self._receive(where)
        if reply.get("ok") is True:
            try:
                return decode(reply.get("value"), blobs, self.limits,
                              from_handle=lambda h: self.handle_factory(h, label))
            except ProtocolError as exc:
                self._broken(where, str(exc))
        error = reply.get("error")
        if not isinstance(error, dict):
            self._broken(where, "malformed error reply")
        types = [str(t) for t in error.get("types", [])][:20] or ["Exception"]
        message = str(error.get("message", ""))[:4000]
        if "NotImplementedError" in types:
            raise StudentNotImplemented(message, where)
        kind = (StudentImportError if op == "import" else
                StudentAttributeError if op == "getattr" and "AttributeError" in types else StudentError)
        causes = error.get("causes", [])
        causes = [str(c) for c in causes][:60] if isinstance(causes, list) else []
        raise kind(types, message, str(error.get("traceback", ""))[:4000], where, causes)

    def _handle_ref(self, value: Any) -> dict:
        from autograder.proxy import Proxy

        if isinstance(value, Proxy) and value._client is self:
            return {"t": "handle", "id": value._id}
        raise ProtocolError(f"only plain data, tensors and the student's own objects can be passed "
                            f"to the student's code, not a {type(value).__name__}")

    def _receive(self, where: str) -> tuple[dict, list]:
        now = time.monotonic()
        call_deadline = now + self.call_seconds
        deadline = min(call_deadline, self.deadline)
        while True:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                self._timed_out(where, by_test=self.deadline < call_deadline)
            ready, _, _ = select.select([self.sock, self.out_fd], [], [], timeout)
            if self.out_fd in ready:
                self._drain()
            if self.sock in ready:
                break
        try:
            return recv_frame(self.sock, self.limits)
        except (EOFError, OSError):
            self._died(where)
        except ProtocolError as exc:
            self._broken(where, str(exc))

    # -- deaths ----------------------------------------------------------------------------
    def _stop(self, error: WorkerDied) -> None:
        self.dead = error
        self._kill()
        raise error

    def _timed_out(self, where: str, by_test: bool) -> None:
        if by_test:
            reason = (f"stopped: {self.test_limit} ran out while running "
                      f"{where} (an infinite loop, or far too slow?)")
        else:
            reason = (f"stopped: {where} did not return within {self.call_seconds:g} s "
                      f"(an infinite loop, or far too slow?)")
        self._stop(WorkerTimeout(reason))

    def _broken(self, where: str, detail: str) -> None:
        self._stop(WorkerDied(f"stopped: the worker sent a malformed reply during {where} ({detail})"))

    def _died(self, where: str) -> None:
        self._drain()
        try:
            status = self.zygote.wait(self.pid, timeout=2.0)
        except (OSError, RuntimeError, ValueError):
            status = {}
        if status.get("exit") is not None:
            how = f"ended itself with exit code {status['exit']}"
        elif status.get("signal") == signal.SIGKILL and self.zygote.oom_kills() > self.oom_kills:
            limit = self.zygote.cgroup.memory_bytes / 2**20
            how = f"was killed: it exceeded the {limit:.0f} MB memory limit"
        elif status.get("signal"):
            sig = status["signal"]
            how = _SIGNALS.get(sig, f"was killed by signal {signal.Signals(sig).name}"
                               if sig in signal.Signals._value2member_map_ else f"was killed by signal {sig}")
        else:
            how = "closed its connection to the grader"
        self._stop(WorkerDied(f"the worker running your code {how} during {where} "
                              f"(os._exit, a crash, or a killed process); later calls in this test were not run"))
