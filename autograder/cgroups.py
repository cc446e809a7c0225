"""A control group per submission's worker tree: a memory limit that names itself, a process
limit that holds for root too, and a kill switch for everything inside (``setsid`` escapees too).

Used where the cgroup file system is writable (root on most Linux machines and CI containers;
cgroup v1 and v2); elsewhere :meth:`Cgroup.create` returns None and the worker's rlimits remain.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Cgroup", "CgroupUnavailable"]

ROOT = Path("/sys/fs/cgroup")


class CgroupUnavailable(OSError):
    pass


def _own_path(controller: str | None) -> str:
    """This process's cgroup path for ``controller`` (None: the v2 unified hierarchy)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _id, controllers, path = line.split(":", 2)
        names = controllers.split(",") if controllers else []
        if (controller is None and _id == "0") or (controller is not None and controller in names):
            return path.lstrip("/")
    raise CgroupUnavailable(f"no {controller or 'v2'} cgroup")


@dataclass(frozen=True)
class Cgroup:
    """One cgroup (v2) or a pair of them (v1: memory and pids)."""

    folders: tuple[Path, ...]
    v2: bool
    memory_bytes: int

    @classmethod
    def create(cls, memory_bytes: int, max_pids: int, prefix: str = "cnn-grade") -> "Cgroup | None":
        """A fresh cgroup under this process's own, or None where that is not possible."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        try:
            if (ROOT / "cgroup.controllers").is_file():  # v2
                parent = ROOT / _own_path(None)
                folder = parent / name
                folder.mkdir()
                group = cls((folder,), True, memory_bytes)
                group._write(folder / "memory.max", memory_bytes)
                group._write(folder / "memory.swap.max", 0, optional=True)
                group._write(folder / "pids.max", max_pids)
                return group
            memory = ROOT / "memory" / _own_path("memory") / name
            pids = ROOT / "pids" / _own_path("pids") / name
            memory.mkdir()
            try:
                pids.mkdir()
            except OSError:
                memory.rmdir()
                raise
            group = cls((memory, pids), False, memory_bytes)
            group._write(memory / "memory.limit_in_bytes", memory_bytes)
            group._write(memory / "memory.memsw.limit_in_bytes", memory_bytes, optional=True)
            group._write(pids / "pids.max", max_pids)
            return group
        except (OSError, ValueError):
            return None

    def to_json(self) -> dict:
        return {"folders": [str(f) for f in self.folders], "v2": self.v2, "memory_bytes": self.memory_bytes}

    @classmethod
    def from_json(cls, data: dict) -> "Cgroup":
        return cls(tuple(Path(f) for f in data["folders"]), bool(data["v2"]), int(data["memory_bytes"]))

    @staticmethod
    def _write(path: Path, value: int, optional: bool = False) -> None:
        try:
            path.write_text(str(value))
        except OSError:
            if not optional:
                raise

    def add(self, pid: int = 0) -> None:
        """Move ``pid`` (0: the calling process) into the group; its future children follow."""
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(pid or os.getpid()))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for folder in self.folders:
            try:
                found |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return found

    def oom_kills(self) -> int:
        """How many processes the kernel killed in this group for exceeding the memory limit."""
        folder = self.folders[0]
        name = "memory.events" if self.v2 else "memory.oom_control"
        try:
            for line in (folder / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def kill_all(self) -> None:
        """SIGKILL everything in the group (repeated: a fork bomb forks while it is being killed)."""
        if self.v2:
            try:
                (self.folders[0] / "cgroup.kill").write_text("1")
            except OSError:
                pass
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.01)

    def remove(self) -> None:
        """Kill what is left and remove the group (the kernel refuses while a process is inside)."""
        self.kill_all()
        for folder in self.folders:
            for _ in range(100):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
