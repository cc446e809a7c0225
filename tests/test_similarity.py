"""``grade similarity``: copied exercise code is flagged, independent work and starter code are not."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.similarity import SimilarityError, find_similar

MODULE = "ex2_lenet.py"


def disguised(source: str) -> str:
    """The same code with the variables renamed and the comments and docstrings reworded."""
    source = re.sub(r"\bx\b", "feats", source).replace("num_classes", "n_out")
    source = source.replace("# BEGIN SOLUTION", "# my layers").replace("# END SOLUTION", "# done")
    return source.replace('"""LeNet-style', '"""My own LeNet-like').replace("returns (N,", "gives (N,")


def make_batch(root: Path, repo: Path) -> Path:
    subs = root / "subs"
    solution = (repo / "solutions" / MODULE).read_text()
    files = {
        "alice/" + MODULE: solution,  # the reference, verbatim
        "bob/" + MODULE: disguised(solution),  # alice's code, disguised
        "carol/" + MODULE: (repo / "examples" / "correct" / MODULE).read_text(),  # independent, correct
        "dave/" + MODULE: (repo / "student_template" / MODULE).read_text(),  # the untouched stub
        "eve/repo/" + MODULE: (repo / "examples" / "partial" / MODULE).read_text(),  # one folder deep
        "frank/ex1_shapes.py": (repo / "solutions" / "ex1_shapes.py").read_text(),  # no ex2 module
    }
    for name, text in files.items():
        (subs / name).parent.mkdir(parents=True, exist_ok=True)
        (subs / name).write_text(text)
    with zipfile.ZipFile(subs / "gina.zip", "w") as zf:  # a zip, as an LMS export holds them
        zf.writestr("ex-cnn-gina/" + MODULE, solution.replace("# BEGIN SOLUTION", "# gina's"))
    return subs


@pytest.fixture(scope="module")
def batch(tmp_path_factory, repo, manifest):
    root = tmp_path_factory.mktemp("similarity")
    subs = make_batch(root, repo)
    return subs, find_similar(subs, manifest, root / "out"), root / "out"


def pair(report, a, b):
    (found,) = [p for p in report.pairs if p.module == MODULE and {p.first, p.second} == {a, b}]
    return found


def test_a_disguised_copy_is_flagged_and_independent_work_is_not(batch):
    _, report, _ = batch
    copied = pair(report, "alice", "bob")
    assert copied in report.flagged and min(copied.first_similarity, copied.second_similarity) > 0.9
    assert pair(report, "alice", "gina") in report.flagged  # the zip submission is compared too
    independent = pair(report, "alice", "carol")
    assert independent not in report.flagged and independent.similarity < 0.3
    assert report.pairs[0].similarity >= report.pairs[-1].similarity
    assert [p.similarity for p in report.pairs] == sorted((p.similarity for p in report.pairs), reverse=True)


def test_starter_code_counts_for_no_one(batch, manifest, tmp_path):
    subs, report, _ = batch
    with_dave = [p for p in report.pairs if "dave" in (p.first, p.second)]
    assert len(with_dave) == 5 and all(p.similarity == 0 for p in with_dave)
    # without the template as boilerplate the stub's own code would match the stub-shaped solutions
    empty = tmp_path / "no_starter"
    empty.mkdir()
    unfiltered = find_similar(subs, manifest, tmp_path / "out", template=empty)
    assert pair(unfiltered, "alice", "dave").similarity > 0.2


def test_modules_are_found_one_folder_deep_and_missing_ones_skipped(batch):
    _, report, _ = batch
    ex2 = next(m for m in report.modules if m.module == MODULE)
    assert ex2.compared == ("alice", "bob", "carol", "dave", "eve", "gina")
    assert ex2.starter is not None and ex2.starter.name == MODULE
    assert any(s.submission == "frank" and s.module == MODULE for s in report.skipped)
    assert all(p.module == MODULE for p in report.pairs) and len(report.pairs) == 15
    ex1 = next(m for m in report.modules if m.module == "ex1_shapes.py")
    assert ex1.compared == ("frank",) and ex1.report is None


def test_reports_are_written_into_out(batch):
    _, report, out = batch
    assert sorted(p.name for p in out.iterdir()) == ["similarity-ex2_lenet.html", "similarity.csv", "similarity.html"]
    assert report.html == out / "similarity.html" and report.csv == out / "similarity.csv"
    index = report.html.read_text()
    assert "similarity-ex2_lenet.html" in index and "alice" in index and "frank: no ex2_lenet.py" in index
    module_page = (out / "similarity-ex2_lenet.html").read_text()
    assert "highlight-red" in module_page and str(Path("alice") / MODULE) in module_page
    rows = list(csv.DictReader(report.csv.open()))
    assert len(rows) == len(report.pairs)
    assert {rows[0]["first"], rows[0]["second"]} == {"alice", "bob"} and rows[0]["flagged"] == "1"
    assert float(rows[0]["first_similarity"]) > 0.9


def test_bad_input_raises(tmp_path, manifest):
    with pytest.raises(SimilarityError, match="not found"):
        find_similar(tmp_path / "missing", manifest, tmp_path / "out")
    with pytest.raises(SimilarityError, match="between 0 and 1"):
        find_similar(tmp_path, manifest, tmp_path / "out", threshold=1.5)


def unboxed(text: str) -> str:
    """typer's error box, as one line (a long path wraps it)."""
    return re.sub(r"[\s│]+", " ", text)


def grade_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "autograder.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_cli_prints_the_flagged_pairs_and_exits_0(repo, tmp_path):
    subs = make_batch(tmp_path, repo)
    proc = grade_cli("similarity", subs, "--out", tmp_path / "out", "--threshold", "0.9", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "alice" in proc.stdout and "bob" in proc.stdout and "carol" not in proc.stdout
    assert str(tmp_path / "out" / "similarity.html") in proc.stdout
    assert (tmp_path / "out" / "similarity.csv").is_file()


def test_cli_usage_errors_exit_2(repo, tmp_path):
    proc = grade_cli("similarity", tmp_path / "missing", "--out", tmp_path / "out", cwd=repo)
    assert proc.returncode == 2 and "does not exist" in unboxed(proc.stderr) and proc.stdout == ""
    proc = grade_cli("similarity", tmp_path, "--out", tmp_path / "out", "--threshold", "2", cwd=repo)
    assert proc.returncode == 2 and "--threshold" in unboxed(proc.stderr)


def test_without_copydetect_the_cli_says_how_to_install_it(repo, tmp_path):
    (tmp_path / "subs").mkdir()
    script = ("import sys; sys.modules['copydetect'] = None\n"  # as if it were not installed
              "from autograder.cli import app; app(sys.argv[1:], prog_name='grade')")
    proc = subprocess.run([sys.executable, "-c", script, "similarity", str(tmp_path / "subs"), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, cwd=repo, timeout=120)
    assert proc.returncode == 2 and "pip install 'cnn-autograder[similarity]'" in proc.stderr
    lazy = subprocess.run([sys.executable, "-c", "import sys, autograder.cli, autograder.similarity; "
                           "print('copydetect' in sys.modules, 'matplotlib' in sys.modules)"],
                          capture_output=True, text=True, cwd=repo, timeout=120)
    assert lazy.stdout.split() == ["False", "False"], lazy.stderr
