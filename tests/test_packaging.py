"""Students pip-install the engine: the wheel and sdist must hold autograder/ and nothing secret."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile

SECRET = ("solutions/", "grading_tests/", "mutants/", "examples/")


def test_wheel_and_sdist_contain_the_engine_and_no_secrets(repo, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path), str(repo)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    (sdist,) = tmp_path.glob("*.tar.gz")
    wheel_names = zipfile.ZipFile(wheel).namelist()
    sdist_names = [n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n]
    assert "autograder/runner.py" in wheel_names and "autograder/worker.py" in wheel_names
    assert any(n.endswith("entry_points.txt") for n in wheel_names)
    for names in (wheel_names, sdist_names):
        leaked = [n for n in names if n.startswith(SECRET) or "/solutions/" in n or "grading_tests" in n]
        assert not leaked, leaked
