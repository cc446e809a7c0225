"""``grade similarity``: pairs of submissions whose exercise code is suspiciously similar.

Each exercise module is compared only with the same module of the other submissions (ex2_lenet.py
with ex2_lenet.py), by copydetect's winnowed fingerprints of the tokenised code (names, strings and
comments do not count, so renaming variables or rewording comments does not hide a copy). The
template's stub of the module is copydetect's boilerplate: text every student received counts for
no one. Submissions are found as ``grade batch`` finds them (:func:`autograder.submissions.discover`:
one folder or zip per student, modules at the top or one folder deep).

Written to OUT: ``similarity.html`` (flagged pairs, links to one copydetect report per module with
the shared code highlighted), ``similarity-<module>.html`` and ``similarity.csv`` (every compared
pair). copydetect is optional (``pip install 'cnn-autograder[similarity]'``) and imported only here,
only when :func:`find_similar` runs.
"""

from __future__ import annotations

import csv
import html
import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.manifest import Manifest
from autograder.submissions import SubmissionError, discover

__all__ = ["DEFAULT_THRESHOLD", "INSTALL_HINT", "SimilarityError", "SimilarityUnavailable", "SimilarPair",
           "Skipped", "ModuleResult", "SimilarityReport", "find_similar"]

# Independent correct implementations in this repo (solutions vs examples/correct) reach 0.32 on
# ex1, whose functions are one-line formulas; copydetect's own default display threshold is 0.33.
DEFAULT_THRESHOLD = 0.5
INSTALL_HINT = "pip install 'cnn-autograder[similarity]'"
CSV_NAME, HTML_NAME = "similarity.csv", "similarity.html"


class SimilarityError(ValueError):
    """The comparison cannot run (missing folder, bad threshold, missing template)."""


class SimilarityUnavailable(RuntimeError):
    """copydetect, an optional dependency, is not installed."""


@dataclass(frozen=True)
class SimilarPair:
    module: str  # e.g. "ex2_lenet.py"
    first: str  # submission names, in the order found (by folder or zip name)
    second: str
    first_similarity: float  # share of first's own (non-starter) code that also appears in second
    second_similarity: float  # and the other way round
    overlap_tokens: int  # tokens of first's code in the shared passages

    @property
    def similarity(self) -> float:
        return max(self.first_similarity, self.second_similarity)


@dataclass(frozen=True)
class Skipped:
    submission: str
    module: str | None  # None: the whole submission (unreadable zip, no exercise module at all)
    reason: str


@dataclass(frozen=True)
class ModuleResult:
    module: str
    compared: tuple[str, ...]  # submissions whose module was compared
    starter: Path | None  # the template's stub, given to copydetect as boilerplate
    report: Path | None  # copydetect's report; None when fewer than two submissions have the module


@dataclass(frozen=True)
class SimilarityReport:
    threshold: float
    pairs: tuple[SimilarPair, ...]  # every compared pair, most similar first
    modules: tuple[ModuleResult, ...]
    skipped: tuple[Skipped, ...]
    submissions: tuple[str, ...]
    html: Path
    csv: Path

    @property
    def flagged(self) -> tuple[SimilarPair, ...]:
        """The pairs above the threshold (in either direction), most similar first."""
        return tuple(p for p in self.pairs if p.similarity > self.threshold)


def _copydetect() -> Any:
    try:
        import copydetect
    except ImportError as exc:
        raise SimilarityUnavailable(f"the similarity check needs copydetect ({exc}); install it with: "
                                    f"{INSTALL_HINT}") from None
    return copydetect


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the report from the other TAs
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _module_file(folder: Path, module: str) -> tuple[Path | None, str]:
    """The module's file in a submission's module folder, or None and why not."""
    path = folder / module
    if path.is_symlink():
        return None, f"{module} is a link (not compared, as it is not graded)"
    if not path.is_file():
        return None, f"no {module}"
    try:
        path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{module} is not readable UTF-8 text ({exc.__class__.__name__})"
    return path, ""


def _compare(copydetect: Any, module: str, files: list[tuple[str, Path]], starter: Path | None,
             threshold: float, report: Path, progress: bool) -> tuple[list[SimilarPair], str]:
    """One copydetect run over one module: every pair's scores, and its HTML report."""
    detector = copydetect.CopyDetector(
        extensions=["py"], force_language="python", display_t=threshold, autoopen=False,
        silent=not progress, out_file=str(report))
    for _, path in files:
        detector.add_file(str(path))  # as test and reference file: every pair is compared
    if starter is not None:
        detector.add_file(str(starter), type="boilerplate")
    detector.run()
    scores, overlaps = detector.similarity_matrix, detector.token_overlap_matrix
    pairs = []
    for i, (first, _) in enumerate(files):
        for j in range(i + 1, len(files)):
            a, b = (float(s) for s in scores[i, j])
            if a >= 0:  # -1: not compared
                pairs.append(SimilarPair(module, first, files[j][0], a, b, int(overlaps[i, j])))
    with warnings.catch_warnings():  # copydetect 0.5 reads its template with a deprecated importlib call
        warnings.simplefilter("ignore", DeprecationWarning)
        page = detector.generate_html_report(output_mode="return")
    return pairs, page


def find_similar(submissions: Path, manifest: Manifest, out: Path, threshold: float = DEFAULT_THRESHOLD,
                 template: Path | None = None, *, progress: bool = False) -> SimilarityReport:
    """Compare every exercise module of the submissions in ``submissions`` with the same module of
    the others; write the reports into ``out`` and return every pair's scores.

    ``template`` (default: the manifest's template) holds the starter code, one stub per module.
    A pair is flagged when either side's similarity is above ``threshold`` (0 to 1). ``progress``
    lets copydetect print its progress (stdout and stderr)."""
    submissions, out = Path(submissions), Path(out)
    if not 0.0 <= threshold <= 1.0:
        raise SimilarityError(f"threshold must be between 0 and 1, got {threshold}")
    if not submissions.exists():
        raise SimilarityError(f"submissions folder not found: {submissions}")
    template = Path(template) if template is not None else manifest.template
    if template is not None and not template.is_dir():
        raise SimilarityError(f"template folder (the starter code) not found: {template}")
    if out.exists() and not out.is_dir():
        raise SimilarityError(f"the output folder is a file: {out}")
    copydetect = _copydetect()
    out.mkdir(parents=True, exist_ok=True)

    pairs: list[SimilarPair] = []
    skipped: list[Skipped] = []
    results: list[ModuleResult] = []
    with tempfile.TemporaryDirectory(prefix="grade-similarity-") as work:
        try:
            found = discover(submissions, manifest.modules, Path(work))
        except SubmissionError as exc:
            raise SimilarityError(str(exc)) from None
        readable = [s for s in found if s.folder is not None]
        skipped += [Skipped(s.name, None, s.problem) for s in found if s.folder is None]
        for module in manifest.modules:
            files = []
            for sub in readable:
                path, why = _module_file(sub.folder, module)
                if path is None:
                    skipped.append(Skipped(sub.name, module, why))
                else:
                    files.append((sub.name, path.resolve()))
            stub = template / module if template is not None else None
            starter = stub if stub is not None and stub.is_file() else None
            report = out / f"similarity-{Path(module).stem}.html"
            if len(files) < 2:
                report.unlink(missing_ok=True)  # a stale report of an earlier run would mislead
                results.append(ModuleResult(module, tuple(n for n, _ in files), starter, None))
                continue
            module_pairs, page = _compare(copydetect, module, files, starter, threshold, report, progress)
            _write_atomic(report, page)
            pairs += module_pairs
            results.append(ModuleResult(module, tuple(n for n, _ in files), starter, report))

    pairs.sort(key=lambda p: (-p.similarity, p.module, p.first, p.second))
    result = SimilarityReport(threshold, tuple(pairs), tuple(results), tuple(skipped),
                              tuple(s.name for s in found), out / HTML_NAME, out / CSV_NAME)
    _write_atomic(result.csv, _csv(result))
    _write_atomic(result.html, _index(result, manifest))
    return result


def _csv(report: SimilarityReport) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["module", "first", "second", "first_similarity", "second_similarity", "overlap_tokens",
                     "flagged"])
    for p in report.pairs:
        writer.writerow([p.module, p.first, p.second, f"{p.first_similarity:.4f}", f"{p.second_similarity:.4f}",
                         p.overlap_tokens, int(p.similarity > report.threshold)])
    return buf.getvalue()


def _index(report: SimilarityReport, manifest: Manifest) -> str:
    """The page a TA opens: flagged pairs, linked to copydetect's report of their module."""
    e = html.escape
    links = {m.module: m.report.name for m in report.modules if m.report is not None}
    rows = "".join(
        f"<tr><td><a href='{e(links[p.module])}'>{e(p.module)}</a></td><td>{e(p.first)}</td>"
        f"<td>{e(p.second)}</td><td>{p.first_similarity:.0%}</td><td>{p.second_similarity:.0%}</td>"
        f"<td>{p.overlap_tokens}</td></tr>" for p in report.flagged)
    modules = "".join(
        f"<li>{e(m.module)}: {len(m.compared)} submissions"
        + (f", <a href='{e(m.report.name)}'>copydetect report</a>" if m.report else ", not compared (fewer than two)")
        + ("" if m.starter else " <b>(no starter code found: not excluded)</b>") + "</li>" for m in report.modules)
    skipped = "".join(f"<li>{e(s.submission)}: {e(s.reason)}</li>" for s in report.skipped)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Similarity: "
        f"{e(manifest.title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .6em;text-align:left}"
        f"</style></head><body>\n<h1>Similar submissions: {e(manifest.title)}</h1>\n"
        f"<p>{len(report.submissions)} submissions, {len(report.pairs)} pairs compared, "
        f"{len(report.flagged)} above {report.threshold:.0%} (share of one side's own code, starter code "
        f"excluded, also found in the other). Every pair's scores: <a href='{CSV_NAME}'>{CSV_NAME}</a>.</p>\n"
        "<h2>Flagged pairs</h2>\n"
        + (f"<table><tr><th>module</th><th>first</th><th>second</th><th>first in second</th>"
           f"<th>second in first</th><th>shared tokens</th></tr>{rows}</table>\n" if rows else "<p>None.</p>\n")
        + f"<h2>Modules</h2>\n<ul>{modules}</ul>\n"
        + (f"<h2>Not compared</h2>\n<ul>{skipped}</ul>\n" if skipped else "")
        + "</body></html>\n")
