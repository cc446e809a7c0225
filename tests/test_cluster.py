"""``grade batch --cluster``: the same per-submission tasks on a real Dask ``LocalCluster``."""

from __future__ import annotations

import csv

import pytest

from autograder.batch import BatchOptions, grade_batch
from autograder.engines import ClusterError, DaskGrader, Engine

distributed = pytest.importorskip("distributed", reason="Dask is an optional extra: pip install '.[cluster]'")


def gradebook(out):
    with open(out / "grades.csv", newline="") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def test_a_dask_cluster_grades_like_this_machine(repo, manifest, tmp_path):
    subs = repo / "examples"
    local = BatchOptions(tests=manifest.hidden_tests, exercises=("ex1",), jobs=2, engine=Engine.fresh)
    grade_batch(subs, tmp_path / "local", manifest, local)
    notes: list[str] = []
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster:
        remote = BatchOptions(tests=manifest.hidden_tests, exercises=("ex1",),
                              cluster=cluster.scheduler_address)
        rows = grade_batch(subs, tmp_path / "cluster", manifest, remote, on_note=notes.append)
    assert any("1 worker" in n for n in notes), notes
    here, there = gradebook(tmp_path / "local"), gradebook(tmp_path / "cluster")
    assert here == there
    assert there["correct"]["total"] == "20" and float(there["partial"]["total"]) < 20
    assert {r.student for r in rows} == {"correct", "partial", "broken"}
    for student in here:  # the per-student results are complete on both sides
        assert (tmp_path / "cluster" / "results" / f"{student}.json").is_file()


def test_an_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        DaskGrader("tcp://127.0.0.1:9", timeout=2)
