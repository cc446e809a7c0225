"""Submissions that misbehave (shared by the batch tests): each is the reference solution with one
hostile act in LeNet's forward pass (or at import), and the phrase its gradebook reason must hold."""

from __future__ import annotations

import shutil

FORWARD = "        x = self.pool(F.relu(self.conv1(x)))"

HOSTILE = {  # student -> (module, text inserted after FORWARD or appended at module level)
    "hang": ("ex2_lenet.py", "        while True:\n            pass\n"),
    "segfault": ("ex2_lenet.py", "        import ctypes\n        ctypes.string_at(0)\n"),
    "memory": ("ex2_lenet.py", "        hoard = bytearray(8 * 2**30)\n"),
    "flood": ("ex2_lenet.py", "        print('x' * 2**20)\n"),
    "disk": ("ex2_lenet.py", "        fill = open('fill.bin', 'wb')\n        for _ in range(4096):\n"
                             "            fill.write(bytes(2**20))\n"),
    "osexit": ("ex2_lenet.py", None),  # os._exit(0) at import
    "sysexit": ("ex2_lenet.py", "        raise SystemExit(0)\n"),
    "interrupt": ("ex2_lenet.py", "        raise KeyboardInterrupt\n"),
}


HOSTILE_EXPECTED = {"hang": "timeout", "segfault": "segmentation fault", "memory": "MemoryError",
                    "disk": "File too large", "osexit": "exit code 0", "sysexit": "SystemExit",
                    "interrupt": "KeyboardInterrupt"}  # flood: printing is not wrong


def make_base(root, repo):
    shutil.copytree(repo / "solutions", root / "ref", ignore=shutil.ignore_patterns("ex[3-6]*"))
    shutil.copytree(repo / "examples" / "partial", root / "partial")
    shutil.copytree(repo / "examples" / "broken", root / "broken")
    (root / "nothing").mkdir()


def add_hostile(root, repo):
    for student, (module, text) in HOSTILE.items():
        shutil.copytree(repo / "solutions", root / student, ignore=shutil.ignore_patterns("ex[3-6]*"))
        path = root / student / module
        source = path.read_text()
        if text is None:
            source += "\nimport os\nos._exit(0)\n"
        else:
            assert source.count(FORWARD) == 1
            source = source.replace(FORWARD, text + FORWARD)
        path.write_text(source)
