"""The operating-system side of the worker's isolation: namespaces where they work, else rlimits.

A sandbox holds each submission's worker zygote: a fresh root that holds only the system's
libraries, the Python installation, the grader's own package and the submission's exercise
modules, all read-only; a private, size-limited tmpfs as the only writable place; no network (its
own empty network namespace); its own PID namespace that dies with the grader (a ``setsid``
grandchild cannot outlive it); its own IPC and UTS namespaces; uid 65534; a cleared environment.
The hidden tests, the reference solutions, other submissions and the batch's results do not exist
in there. ``--sandbox ns`` builds it in the grader itself (:mod:`autograder.namespaces`), in a
child of its warm zygote; ``--sandbox bwrap`` has bubblewrap build it around a fresh interpreter,
which pays a second torch import. ``auto`` picks ns, else bwrap, else none.

``--sandbox none`` (or ``auto`` where neither works: user namespaces blocked, as on GitHub's
Ubuntu 24.04 runners unless a sysctl is changed) keeps the worker's rlimits, process group,
scrubbed environment and private folder, and says "unsandboxed" in every report. It does not
change the worker's uid (a Python installed under a private home, e.g. pyenv's /root/.pyenv,
would become unreadable), so a worker of a grader running as root can read and write what root
can: the README's threat model lists what only a sandbox stops. Every mode adds a cgroup
(:mod:`autograder.cgroups`) where writable.
"""

from __future__ import annotations

import enum
import functools
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SandboxMode", "Sandbox", "SandboxUnavailable", "choose", "bwrap_argv", "sandbox_paths",
           "SANDBOX_HOME", "SANDBOX_ENV", "NOBODY", "TMPFS_BYTES"]

SANDBOX_HOME = "/sandbox"  # the only writable place inside the sandbox (a tmpfs)
NOBODY = 65534
TMPFS_BYTES = 512 * 2**20
#: The zygote's whole environment inside a sandbox (each worker then makes its own, see worker.py).
SANDBOX_ENV = {"PATH": "/usr/bin:/bin", "HOME": SANDBOX_HOME, "LANG": "C.UTF-8", "TMPDIR": SANDBOX_HOME,
               "OMP_NUM_THREADS": "1"}
_ETC_FILES = ("ld.so.cache", "ld.so.conf", "localtime", "nsswitch.conf")


class SandboxMode(str, enum.Enum):
    auto = "auto"
    ns = "ns"
    bwrap = "bwrap"
    none = "none"


class SandboxUnavailable(RuntimeError):
    """``--sandbox bwrap`` was asked for where bubblewrap cannot run."""


@dataclass(frozen=True)
class Sandbox:
    mode: SandboxMode  # ns, bwrap or none: what is used
    reason: str = ""  # why not sandboxed, for "none"

    @property
    def isolated(self) -> bool:
        """The worker runs in a sandbox (ns or bwrap: the same isolation)."""
        return self.mode in (SandboxMode.ns, SandboxMode.bwrap)

    @property
    def description(self) -> str:
        if self.isolated:
            return (f"{self.mode.value}: read-only root without the tests, solutions or other submissions; "
                    "no network; own PID namespace; uid 65534")
        return f"unsandboxed ({self.reason}): rlimits, process groups and a scrubbed environment only"

    def to_json(self) -> dict:
        return {"mode": self.mode.value, "reason": self.reason}

    @classmethod
    def from_json(cls, data: dict) -> "Sandbox":
        return cls(SandboxMode(data["mode"]), data.get("reason", ""))


@functools.lru_cache(maxsize=None)
def _bwrap_problem() -> str:
    """"" when bubblewrap can start a sandbox here, else why not."""
    if not sys.platform.startswith("linux"):
        return "bubblewrap is Linux only"
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap (bwrap) is not installed"
    try:
        probe = subprocess.run(
            [exe, "--unshare-all", "--die-with-parent", "--uid", str(NOBODY), "--gid", str(NOBODY),
             "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
             "--symlink", "usr/lib64", "/lib64", "--", "/bin/true"],
            capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not run: {exc}"
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return f"bwrap cannot create namespaces here ({last[:200]}; user namespaces blocked?)"
    return ""


def choose(requested: SandboxMode | str = SandboxMode.auto) -> Sandbox:
    """The sandbox to use: ``auto`` is ns, else bwrap, else none (with the reason); ``ns`` or
    ``bwrap`` where it cannot work raises :class:`SandboxUnavailable`."""
    from autograder.namespaces import ns_problem

    requested = SandboxMode(requested)
    if requested is SandboxMode.none:
        return Sandbox(SandboxMode.none, "--sandbox none")
    if requested in (SandboxMode.auto, SandboxMode.ns):
        problem = ns_problem()
        if not problem:
            return Sandbox(SandboxMode.ns)
        if requested is SandboxMode.ns:
            raise SandboxUnavailable(f"--sandbox ns: {problem}")
    problem = _bwrap_problem()
    if not problem:
        return Sandbox(SandboxMode.bwrap)
    if requested is SandboxMode.bwrap:
        raise SandboxUnavailable(f"--sandbox bwrap: {problem}")
    return Sandbox(SandboxMode.none, problem)


def _python_roots() -> list[str]:
    """Folders the sandboxed interpreter needs: its installation, the venv, site-packages."""
    roots = {sys.base_prefix, sys.prefix, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    for entry in sys.path:
        if entry and ("site-packages" in entry or "dist-packages" in entry):
            roots.add(entry)
    return sorted(r for r in roots if r and os.path.isdir(r))


def sandbox_paths(modules_dir: str) -> list[str]:
    """What a sandbox shows, read-only, at the same paths: /usr, /bin, /lib, /lib64 and /sbin (a
    top-level symlink stays a symlink), a few files of /etc, the Python installation, the grader's
    package and the submission's exercise modules."""
    package = str(Path(__file__).resolve().parent)
    paths = ["/usr"] + [f"/{d}" for d in ("bin", "lib", "lib64", "sbin") if os.path.lexists(f"/{d}")]
    paths += [f"/etc/{name}" for name in _ETC_FILES if os.path.exists(f"/etc/{name}")]
    roots = _python_roots()
    paths += [r for r in roots if not any(r.startswith(o + os.sep) for o in roots if o != r)]
    return paths + [package, modules_dir]


def bwrap_argv(modules_dir: str, argv: list[str]) -> list[str]:
    """``bwrap ... -- argv`` for a zygote that sees ``modules_dir`` (read-only) and nothing secret."""
    cmd = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
           "--uid", str(NOBODY), "--gid", str(NOBODY), "--clearenv"]
    for name, value in SANDBOX_ENV.items():
        cmd += ["--setenv", name, value]
    for path in sandbox_paths(modules_dir):
        if path.count("/") == 1 and os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.exists(path):
            cmd += ["--ro-bind", path, path]
    cmd += ["--proc", "/proc", "--dev", "/dev",
            "--size", str(TMPFS_BYTES), "--tmpfs", SANDBOX_HOME, "--remount-ro", "/", "--", *argv]
    return cmd
