"""The batch grading server: one torch import and one warm hidden suite for a whole batch.

Grading one submission the plain way (:func:`autograder.runner.grade`) starts a fresh trusted
test process: a new interpreter, ``import torch, torchvision`` (seconds, hundreds of MB), a fresh
zygote, pytest, hypothesis, the hidden suites and the reference, every time. The server pays all
of that once::

    batch process (no torch)
      └─ server  (python -I -m autograder.server): torch imported, then
           ├─ zygote       forked before anything secret is loaded
           │    └─ sub-zygote per submission ─ worker per test   (student code, untrusted)
           └─ trusted test process per submission, forked from the server

After the zygote is forked, the server grades the reference solution once with the hidden suites
(the *warm-up*): that imports pytest, the suites and the reference, runs every lazy
initialisation, fills the caches of reference-side values that do not depend on the submission
(:func:`autograder.testing.once_per_batch`), and proves the suites give the reference full marks.
Every submission's trusted test process is then a fork of that warm server, with the same
per-test streaming, time limits and death handling as a fresh one (the runner cannot tell them
apart), and each submission's workers come from its own sub-zygote with only its own modules.
Student code never runs in the server or in anything forked from it.
"""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from autograder.manifest import Manifest
from autograder.results import Report, Visibility
from autograder.sandbox import Sandbox, SandboxMode, choose
from autograder.trusted import TrustedConfig
from autograder.zygote import ForkClient

__all__ = ["GradingServer", "ServerError"]


class ServerError(RuntimeError):
    """The server could not start (its log's last line says why)."""


class GradingServer:
    """Parent-side handle; thread-safe, so a batch's threads share one server."""

    def __init__(self, proc: subprocess.Popen, client: ForkClient, tests_dir: Path, scratch: Path,
                 warm_up_results: Path | None, sandbox: Sandbox):
        self.sandbox = sandbox
        self.proc = proc
        self.client = client
        self.tests_dir = tests_dir
        self.scratch = scratch
        self.warm_up_results = warm_up_results

    @classmethod
    def for_manifest(cls, manifest: Manifest, tests: Path, *, exercises: Sequence[str] | None = None,
                     warm_up: bool = True, timeout: float = 600.0,
                     sandbox: SandboxMode | str = SandboxMode.auto) -> "GradingServer":
        """A server for the suite in ``tests`` that first grades the manifest's solutions on
        ``exercises`` (default: all; when ``warm_up`` and there are solutions): see the module
        docstring. Submissions may be graded on any exercises; the warm-up's only fill caches."""
        from autograder.runner import stage_modules, trusted_config, visibility_of

        tests = Path(tests).resolve()
        chosen = choose(sandbox)
        scratch = Path(tempfile.mkdtemp(prefix="grade-server-"))
        warm = None
        if warm_up and manifest.solutions is not None and manifest.solutions.is_dir():
            stage_modules(manifest.solutions, manifest, scratch / "warm-up" / "modules")
            (scratch / "warm-up" / "work").mkdir()
            warm = trusted_config(manifest, tests, tuple(exercises or manifest.names), scratch / "warm-up", -1,
                                  visibility_of(tests, manifest), sandbox=chosen)
        return cls.start(tests, warm, timeout=timeout, scratch=scratch, sandbox=chosen)

    @classmethod
    def start(cls, tests_dir: Path, warm_up: TrustedConfig | None = None, *, timeout: float = 600.0,
              scratch: Path | None = None, sandbox: Sandbox | None = None) -> "GradingServer":
        """Start a server for the suite in ``tests_dir``; ``warm_up`` grades the reference first
        (its ``result_fd`` is ignored: the results go to a file, see :meth:`reference_report`)."""
        tests_dir = Path(tests_dir).resolve()
        sandbox = sandbox or choose(SandboxMode.auto)
        scratch = Path(scratch) if scratch is not None else Path(tempfile.mkdtemp(prefix="grade-server-"))
        results = scratch / "warm-up.jsonl" if warm_up is not None else None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        request = {"tests_dir": str(tests_dir), "zygote_dir": str(scratch / "zygote"), "sandbox": sandbox.to_json(),
                   "warm_up": warm_up.to_json() if warm_up is not None else None,
                   "warm_up_results": str(results) if results else None, "channel_fd": theirs.fileno()}
        from autograder.runner import trusted_environment

        with open(scratch / "server.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-I", "-m", "autograder.server", json.dumps(request)],
                                    pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True, cwd=scratch,
                                    env=trusted_environment())
        theirs.close()
        server = cls(proc, ForkClient(proc.pid, ours), tests_dir, scratch, results, sandbox)
        ready, _, _ = select.select([ours], [], [], timeout)
        message = ours.recv(1 << 16) if ready else b""
        if not message or json.loads(message).get("ready") is not True:
            why = "it did not start in time" if not ready else f"exit code {proc.poll()}"
            tail = server.log_tail()
            server.stop()
            raise ServerError(f"the grading server failed ({why}): {tail or 'no output'}")
        return server

    def log_tail(self) -> str:
        try:
            lines = (self.scratch / "server.log").read_bytes()[-4000:].decode("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        lines = [line for line in lines if line.strip()]
        return " | ".join(lines[-3:])[-500:]

    def reference_report(self, exercises: tuple[str, ...]) -> Report | None:
        """What the warm-up gave the reference solution (None when there was no warm-up)."""
        from autograder.runner import ResultCollector

        if self.warm_up_results is None:
            return None
        collector = ResultCollector(None)
        lines = self.warm_up_results.read_bytes().splitlines() if self.warm_up_results.is_file() else []
        for line in lines:
            if line.strip():
                collector.feed(line)
        return collector.report(exercises, Visibility.HIDDEN, 0, False, 0.0, self.log_tail())

    def serves(self, tests_dir: Path) -> bool:
        return Path(tests_dir).resolve() == self.tests_dir

    def launch(self, cfg: TrustedConfig, log_fd: int) -> "Launched":
        """Fork a trusted test process for ``cfg``; results go to ``cfg.result_fd``."""
        if not self.serves(Path(cfg.tests_dir)):
            raise ValueError(f"this server serves {self.tests_dir}, not {cfg.tests_dir}")
        fds = [cfg.result_fd, log_fd]
        cfg = replace(cfg, result_fd=-1, sandbox=self.sandbox.to_json())
        pid = self.client.fork({"config": cfg.to_json()}, fds)
        return Launched(self.client, pid)

    def stop(self) -> None:
        """End the server and everything forked from it."""
        self.client.stop()
        try:
            os.killpg(self.proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        from autograder.runner import chmod_writable

        chmod_writable(self.scratch)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> "GradingServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class Launched:
    """A trusted test process forked by the server (the runner's view of it)."""

    def __init__(self, client: ForkClient, pid: int):
        self.client, self.pid = client, pid
        self.returncode: int | None = None

    def stop(self, at_once: bool) -> int | None:
        """Wait (unless ``at_once``) up to 10 s for it to end, then kill it; its exit status."""
        deadline = time.monotonic() + (0 if at_once else 10.0)
        status: dict = {"running": True}
        try:
            while status.get("running") and time.monotonic() < deadline:
                status = self.client.wait(self.pid, timeout=0.2)
            if status.get("running"):
                self.client.kill(self.pid)
                status = self.client.wait(self.pid, timeout=5.0)
        except (OSError, RuntimeError, ValueError):
            return None
        self.returncode = -status["signal"] if "signal" in status else status.get("exit")
        return self.returncode


# -- the server process ----------------------------------------------------------------------
def _serve(request: dict) -> None:
    from autograder.worker import WorkerSettings, set_parent_death_signal

    # No parent-death signal here (it would fire when the *thread* that started us ends): the
    # server ends when its channel closes, which the kernel does when the parent process dies.
    channel = socket.socket(fileno=int(request["channel_fd"]))
    import torch
    import torchvision  # noqa: F401

    from autograder.trusted import lock_down_pytest, run_suite, submission_cgroup
    from autograder.zygote import Zygote, freeze_heap, serve_forks

    sandbox = Sandbox.from_json(request["sandbox"])
    zygote = None  # bwrap: a sandboxed zygote per submission, never a fork of this process
    os.makedirs(request["zygote_dir"], exist_ok=True)
    if sandbox.mode is not SandboxMode.bwrap:  # none, or ns: it builds a sandbox per submission
        zygote = Zygote.start(WorkerSettings(request["zygote_dir"], request["zygote_dir"]))
    torch.set_num_threads(1)
    lock_down_pytest()  # only now may secrets be loaded: the zygote holds none of them

    def sub_zygote(cfg: TrustedConfig) -> Zygote:
        settings = WorkerSettings(cfg.modules_dir, cfg.scratch_dir, cfg.memory_mb)
        cgroup = submission_cgroup(cfg.memory_mb)
        if zygote is None:
            return Zygote.start(settings, sandbox, cgroup)
        return zygote.sub_zygote(settings, cgroup, sandbox)

    def run(cfg: TrustedConfig, sub: Zygote) -> int:
        try:
            torch.manual_seed(0)
            random.seed(0)
            os.chdir(cfg.scratch_dir)
            return run_suite(cfg, sub)
        finally:
            sub.stop()

    if request["warm_up"]:
        cfg = TrustedConfig.from_json(request["warm_up"])
        fd = os.open(request["warm_up_results"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        run(replace(cfg, result_fd=fd), sub_zygote(cfg))
        os.chdir(request["zygote_dir"])

    def start_child(message: dict, fds: list) -> int:
        cfg = TrustedConfig.from_json(message["config"])
        sub = sub_zygote(cfg)  # asked here, in the server: children never share its channel
        freeze_heap()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                set_parent_death_signal()
                channel.close()
                if zygote is not None:
                    zygote.sock.close()
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.dup2(fds[1], 1)
                os.dup2(fds[1], 2)
                code = run(replace(cfg, result_fd=fds[0]), sub)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        sub.sock.close()  # the child's channel now: the sub-zygote ends when the child does
        cgroups[pid] = sub.cgroup
        return pid

    cgroups: dict[int, Any] = {}

    def reaped(pid: int) -> None:  # the test process ended (or was killed): so does its cgroup
        group = cgroups.pop(pid, None)
        if group is not None:
            group.remove()

    channel.send(json.dumps({"ready": True}).encode())
    serve_forks(channel, start_child, on_reaped=reaped)
    for group in cgroups.values():
        if group is not None:
            group.remove()
    if zygote is not None:
        zygote.stop()


if __name__ == "__main__":
    _serve(json.loads(sys.argv[1]))
