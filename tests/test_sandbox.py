"""The two sandboxes, ``ns`` (built by the grader: autograder.namespaces) and ``bwrap``, observed
from inside by the same probe: what a submission sees, may write, may reach, and who it is.

The hostile-submission suite (test_threats.py) grades real attacks through the whole engine with
the sandbox ``auto`` picks; these tests pin down each mechanism of both sandboxes directly and
fast, so a regression names the mechanism that broke."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from autograder import namespaces
from autograder.sandbox import (NOBODY, SANDBOX_ENV, SANDBOX_HOME, TMPFS_BYTES, SandboxMode,
                                SandboxUnavailable, bwrap_argv, choose, sandbox_paths)

PROBE = r'''
import json, os, socket, sys
modules_dir, secret_dir, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

def writable(folder):
    try:
        with open(os.path.join(folder, "probe-write"), "w") as fh:
            fh.write("x")
        return True
    except OSError:
        return False

def reach(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"leak")
        return True
    except OSError:
        return False

status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
vfs = os.statvfs(os.environ.get("HOME", "/sandbox"))
print(json.dumps({
    "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
    "cap_eff": int(status["CapEff"].strip(), 16), "no_new_privs": status.get("NoNewPrivs", "").strip(),
    "writable": {p: writable(p) for p in ("/", "/usr", "/etc", modules_dir)},
    "home_writable": writable(os.environ.get("HOME", "/nonexistent")),
    "home_bytes": vfs.f_blocks * vfs.f_frsize,
    "modules": sorted(os.listdir(modules_dir)),
    "secret_visible": os.path.exists(secret_dir),
    "beside_modules": sorted(os.listdir(os.path.dirname(modules_dir))),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "loopback_reached": reach(port),
    "env": sorted(os.environ),
}))
'''


#: the user other than root that runs the grader in the "ns-user" case (a user namespace)
OTHER_UID = 1000


@pytest.fixture
def layout():
    """The submission's modules and a hidden folder beside them, readable by any user."""
    tmp_path = Path(tempfile.mkdtemp(prefix="sandbox-probe-"))
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "ex1_shapes.py").write_text("x = 1\n")
    secret = tmp_path / "hidden"
    secret.mkdir()
    (secret / "test_secret.py").write_text("CANARY = 1\n")
    for path in (tmp_path, modules):
        path.chmod(0o755)
    (modules / "ex1_shapes.py").chmod(0o644)
    yield modules, secret
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.fixture
def listener():
    """A loopback listener on the host; ``received`` collects what reached it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            received.append(conn.recv(100))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


def _probe_ns(modules, secret, port) -> dict:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)

        def serve() -> None:
            sys.stdout = os.fdopen(write, "w")
            sys.argv = ["probe", str(modules), str(secret), str(port)]
            exec(compile(PROBE, "probe", "exec"), {"__name__": "__probe__"})
            sys.stdout.flush()

        namespaces.enter_sandbox(sandbox_paths(str(modules)), SANDBOX_HOME, TMPFS_BYTES, NOBODY,
                                 dict(SANDBOX_ENV), serve)
    os.close(write)
    with os.fdopen(read) as fh:
        out = fh.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and out, f"the ns sandbox did not run the probe: {out!r}"
    return json.loads(out)


def _probe_ns_as_other_user(modules, secret, port) -> dict:
    """The ns sandbox built by a grader that is not root (it makes a user namespace)."""
    argv = ["setpriv", "--reuid", str(OTHER_UID), "--regid", str(OTHER_UID), "--clear-groups",
            sys.executable, "-I", __file__, str(modules), str(secret), str(port)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, f"the ns sandbox of uid {OTHER_UID} did not run the probe: {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def _other_user_problem() -> str:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return "needs root and setpriv to run the grader as another user"
    try:
        done = subprocess.run(["setpriv", "--reuid", str(OTHER_UID), "--regid", str(OTHER_UID), "--clear-groups",
                               sys.executable, "-I", "-c", "import torch"], capture_output=True, timeout=60, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return f"this Python cannot run as uid {OTHER_UID} here (installed under a private home?)"
    return ""


def _probe_bwrap(modules, secret, port) -> dict:
    argv = bwrap_argv(str(modules), [sys.executable, "-I", "-c", PROBE, str(modules), str(secret), str(port)])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"bwrap did not run the probe: {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def _available(mode: str) -> str:
    try:
        choose(mode)
        return ""
    except SandboxUnavailable as exc:
        return str(exc)


@pytest.fixture(params=["ns", "ns-user", "bwrap"])
def seen(request, layout, listener):
    """What the probe observed from inside the sandbox ``request.param`` (ns-user: built by a
    grader running as a user other than root)."""
    problem = _available(request.param.split("-")[0])
    if not problem and request.param == "ns-user":
        problem = _other_user_problem()
    if problem:
        pytest.skip(problem)
    modules, secret = layout
    port, received = listener
    probe = {"ns": _probe_ns, "ns-user": _probe_ns_as_other_user, "bwrap": _probe_bwrap}[request.param]
    observed = probe(modules, secret, port)
    observed["listener_received"] = list(received)
    observed["modules_dir"] = str(modules)
    return observed


def test_sandbox_runs_as_nobody_without_capabilities(seen):
    assert (seen["uid"], seen["euid"], seen["gid"]) == (NOBODY, NOBODY, NOBODY), seen
    assert seen["groups"] in ([], [NOBODY]), seen["groups"]
    assert seen["cap_eff"] == 0, f"effective capabilities left: {seen['cap_eff']:#x}"
    assert seen["no_new_privs"] == "1"


def test_sandbox_root_and_modules_are_read_only(seen):
    assert seen["writable"] == {"/": False, "/usr": False, "/etc": False, seen["modules_dir"]: False}


def test_sandbox_home_is_the_only_writable_place_and_is_size_limited(seen):
    assert seen["home_writable"]
    assert seen["home_bytes"] == TMPFS_BYTES


def test_sandbox_shows_the_modules_but_not_the_tests(seen):
    assert seen["modules"] == ["ex1_shapes.py"]
    assert not seen["secret_visible"], "a folder outside the sandbox's paths is visible inside"
    assert seen["beside_modules"] == ["modules"], "the folder holding the modules shows more than them"


def test_sandbox_has_its_own_pid_namespace(seen):
    assert len(seen["pids"]) <= 3 and seen["pids"][0] <= 2, f"host processes visible: {seen['pids'][:10]}"


def test_sandbox_has_no_network(seen):
    assert not seen["loopback_reached"] and seen["listener_received"] == []


def test_sandbox_environment_is_cleared(seen):
    assert set(seen["env"]) - {"PWD"} == set(SANDBOX_ENV)  # bubblewrap sets PWD


def test_ns_sandbox_leaves_no_mount_on_the_host(layout, listener):
    if _available("ns"):
        pytest.skip(_available("ns"))
    before = open("/proc/self/mountinfo").read()
    _probe_ns(*layout, listener[0])
    assert open("/proc/self/mountinfo").read() == before


def test_a_probe_that_hangs_is_a_reason_not_a_hang(monkeypatch):
    import time

    monkeypatch.setattr(namespaces, "PROBE_SECONDS", 0.5)
    monkeypatch.setattr(namespaces, "enter_sandbox", lambda *args: time.sleep(60))
    started = time.monotonic()
    problem = namespaces.ns_problem.__wrapped__()
    assert "did not finish in 0.5 s" in problem and time.monotonic() - started < 10


def test_auto_prefers_ns_then_bwrap_then_none(monkeypatch):
    import autograder.sandbox as sandbox

    monkeypatch.setattr(namespaces, "ns_problem", lambda: "no namespaces here")
    monkeypatch.setattr(sandbox, "_bwrap_problem", lambda: "")
    assert choose("auto").mode is SandboxMode.bwrap
    with pytest.raises(SandboxUnavailable, match="--sandbox ns: no namespaces here"):
        choose("ns")
    monkeypatch.setattr(sandbox, "_bwrap_problem", lambda: "bwrap is not installed")
    fallback = choose("auto")
    assert fallback.mode is SandboxMode.none and not fallback.isolated
    assert "bwrap is not installed" in fallback.description
    monkeypatch.setattr(namespaces, "ns_problem", lambda: "")
    assert choose("auto").mode is SandboxMode.ns and choose("auto").isolated


if __name__ == "__main__":  # the ns-user case: python tests/test_sandbox.py MODULES SECRET PORT
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(json.dumps(_probe_ns(*sys.argv[1:4])))
