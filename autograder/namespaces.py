"""``--sandbox ns``: bubblewrap's sandbox built by the grader itself, inside a forked zygote.

bubblewrap must ``exec`` a new interpreter, so every sandboxed submission pays a second
``import torch, torchvision`` (about a second of CPU). The grader can build the same sandbox with
the same system calls in a child forked from its warm zygote (which imported torch and nothing
secret), so the sandbox costs a fork and a few mounts:

1. ``unshare`` new mount, PID, network, IPC and UTS namespaces. As root, no user namespace
   (mapping root into one would leave the sandbox with the real uid 0, which ``/proc/sys``
   trusts): the sandbox later becomes the real uid 65534. Any other user also gets a new user
   namespace in which uid 65534 is the user's own uid (as bubblewrap does), where unprivileged
   user namespaces are allowed;
2. a tmpfs becomes the root; under it a second tmpfs, ``/newroot``, receives read-only bind mounts
   of ``/usr``, the Python installation, the grader's package and the submission's exercise
   modules (non-recursive: nothing mounted below them comes along), a few files of ``/etc``, a
   minimal ``/dev``, and the writable, size-limited ``/sandbox``;
3. a child becomes PID 1 of the new PID namespace (when it dies the kernel kills every process in
   there, ``setsid`` escapees included; it dies with its parent), mounts a ``/proc`` that shows only
   that namespace, makes ``/newroot`` the root and detaches the old one, remounts it read-only,
   starts a new session, and drops to uid/gid 65534 with no supplementary groups, no capabilities
   (bounding, ambient, effective, permitted, inheritable) and ``no_new_privs``.

The result is what :func:`autograder.sandbox.bwrap_argv` asks bubblewrap for. Whether it works
here is probed once, by building one (:func:`ns_problem`); where it does not, ``auto`` uses
bubblewrap or, failing that, no sandbox (see :mod:`autograder.sandbox`).
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import select
import signal
import sys
import time
from typing import Callable

__all__ = ["enter_sandbox", "ns_problem", "set_parent_death_signal"]

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 24, 47, 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
#: statvfs's ST_* flags of a mount that a read-only remount must keep (a user namespace may not
#: clear them), and the MS_* flag for each
_KEPT_FLAGS = {0x2: MS_NOSUID, 0x4: MS_NODEV, 0x8: MS_NOEXEC, 0x400: 0x400, 0x800: 0x800, 0x1000: 1 << 21}
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217, "riscv64": 41}

_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
PROBE_SECONDS = 20  # a sandbox that takes longer to build is reported as not working


def set_parent_death_signal() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a no-op elsewhere)."""
    try:
        _libc().prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    _check(_libc().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def _pivot_root(new_root: str, put_old: str) -> None:
    number = PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root: unknown system call number on {platform.machine()}")
    _check(_libc().syscall(ctypes.c_long(number), new_root.encode(), put_old.encode()), "pivot_root")


def _bind_ro(source: str, target: str) -> None:
    """Bind ``source`` (a folder or a file) read-only at ``target`` (created as needed)."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, MS_BIND)
    kept = os.statvfs(source).f_flag
    extra = sum(ms for st, ms in _KEPT_FLAGS.items() if kept & st)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | extra)


def _build_root(ro_paths: list[str], home: str, home_bytes: int, uid: int) -> None:
    """Steps 1-2 of the module docstring, in the process that will fork PID 1."""
    outer_uid, outer_gid = os.geteuid(), os.getegid()
    user_namespace = CLONE_NEWUSER if outer_uid != 0 else 0
    _check(_libc().unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
                           | user_namespace), "unshare")
    if user_namespace:  # uid 65534 in here is the grader's own uid outside
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {outer_uid} 1"),
                           ("gid_map", f"{uid} {outer_gid} 1")):
            with open(f"/proc/self/{name}", "w") as fh:
                fh.write(text)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount propagates out
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    os.mkdir("/tmp/oldroot")
    _pivot_root("/tmp", "/tmp/oldroot")
    os.chdir("/")
    os.mkdir("/newroot")
    _mount("tmpfs", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    for path in ro_paths:
        if os.path.islink("/oldroot" + path) and path.count("/") == 1:  # /bin -> usr/bin
            os.symlink(os.readlink("/oldroot" + path), "/newroot" + path)
        elif os.path.exists("/oldroot" + path):
            _bind_ro("/oldroot" + path, "/newroot" + path)
    os.makedirs("/newroot/dev")
    _mount("tmpfs", "/newroot/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for name in _DEVICES:
        if os.path.exists(f"/oldroot/dev/{name}"):
            open(f"/newroot/dev/{name}", "w").close()
            _mount(f"/oldroot/dev/{name}", f"/newroot/dev/{name}", None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"/newroot/dev/{name}")
    os.mkdir("/newroot/dev/shm")
    _mount("tmpfs", "/newroot/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
           f"mode=0700,uid={uid},gid={uid},size=64m")
    _mount(None, "/newroot/dev", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC)
    os.makedirs("/newroot" + home)
    _mount("tmpfs", "/newroot" + home, "tmpfs", MS_NOSUID | MS_NODEV,
           f"mode=0755,uid={uid},gid={uid},size={home_bytes}")
    os.mkdir("/newroot/proc")


def _finish_as_pid1(uid: int, env: dict[str, str]) -> None:
    """Step 3 of the module docstring, in PID 1 of the new namespace."""
    _mount("proc", "/newroot/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir("/newroot")
    _pivot_root(".", ".")
    _check(_libc().umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    try:
        _check(_libc().sethostname(b"sandbox", 7), "sethostname")
    except OSError:
        pass
    os.setsid()
    libc = _libc()
    for cap in range(int(open("/proc/sys/kernel/cap_last_cap").read()) + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # while CAP_SETPCAP is still ours
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    try:
        os.setgroups([])
    except PermissionError:  # in a user namespace with setgroups denied: the groups are unmapped
        pass
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # from root to another uid: every capability is dropped
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    _check(libc.capset(header, (ctypes.c_uint32 * 6)()), "capset")  # and in a user namespace too
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    os.environ.clear()
    os.environ.update(env)


def enter_sandbox(ro_paths: list[str], home: str, home_bytes: int, uid: int, env: dict[str, str],
                  serve: Callable[[], None]) -> None:
    """Run ``serve()`` as PID 1 of a new sandbox; never returns.

    Call it in a freshly forked, single-threaded child that holds nothing secret and only the
    descriptors ``serve`` needs. That child stays outside (in the old PID namespace), waits for
    PID 1 and exits with its status; killing it kills the whole sandbox."""
    code = 70
    try:
        _build_root(ro_paths, home, home_bytes, uid)
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                set_parent_death_signal()
                _finish_as_pid1(uid, env)
                serve()
                code = 0
            except BaseException as exc:  # noqa: BLE001 - reported on stderr, the exit code says it
                print(f"sandbox: {type(exc).__name__}: {exc}", file=sys.stderr)
            os._exit(code)
        for fd in range(3, 1 << 10):  # the channel is PID 1's: its end closes when PID 1 dies
            try:
                os.close(fd)
            except OSError:
                pass
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        code = code if code >= 0 else 128 - code
    except BaseException as exc:  # noqa: BLE001
        print(f"sandbox: {type(exc).__name__}: {exc}", file=sys.stderr)
    os._exit(code)


@functools.lru_cache(maxsize=None)
def ns_problem() -> str:
    """"" when :func:`enter_sandbox` works here, else why not (probed in a forked child)."""
    if not sys.platform.startswith("linux"):
        return "namespaces are Linux only"
    if platform.machine() not in PIVOT_ROOT:
        return f"pivot_root's system call number is not known on {platform.machine()}"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.dup2(write, 2)

        def probe() -> None:
            ok = os.getuid() == uid_probe and not os.path.exists("/oldroot") and os.listdir("/proc") != []
            os.write(2, b"" if ok else b"the probe sandbox is not as expected")

        uid_probe = 65534
        enter_sandbox(["/usr"], "/sandbox", 1 << 20, uid_probe, {}, probe)
    os.close(write)
    message, deadline = b"", time.monotonic() + PROBE_SECONDS
    with os.fdopen(read, "rb", buffering=0) as fh:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fh], [], [], max(0.0, deadline - time.monotonic()))
            chunk = fh.read(4096) if ready else b""
            if not chunk:
                break
            message += chunk
    if time.monotonic() >= deadline:
        os.kill(pid, signal.SIGKILL)  # the sandbox dies with it
        message = f"the probe did not finish in {PROBE_SECONDS} s".encode()
    _, status = os.waitpid(pid, 0)
    text = message.decode(errors="replace").strip()
    if os.waitstatus_to_exitcode(status) != 0 or text:
        return f"cannot build namespaces here ({(text.splitlines() or ['?'])[-1][:200]})"
    return ""
