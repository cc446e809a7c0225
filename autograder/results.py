"""The results model: one frozen ``TestResult`` per test, gathered in a ``Report``.

Totals are computed, never stored. A grader failure (a bug in a hidden test, a crashed trusted
process) is kept apart from a student failure: it sets ``grader_error`` on the test, or lands in
``Report.grader_errors`` when no single test is to blame.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Outcome", "Visibility", "TestResult", "ExerciseTotal", "Report", "NO_CIFAR10"]

#: How the reason of an accuracy test not graded for want of CIFAR-10 starts (other reasons: no GPU,
#: another profile), so that an export can tell which tests an image with the data set would grade.
NO_CIFAR10 = "CIFAR-10 not available"


class Outcome(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    NOT_IMPLEMENTED = "not_implemented"
    TIMEOUT = "timeout"
    NOT_GRADED = "not_graded"

    @property
    def mark(self) -> str:
        return {"passed": "✓", "failed": "✗", "error": "!", "not_implemented": "·",
                "timeout": "⏱", "not_graded": "-"}[self.value]


class Visibility(str, enum.Enum):
    VISIBLE = "visible"  # public tests: the student has them
    HIDDEN = "hidden"  # hidden suites: results shown, test source never


@dataclass(frozen=True)
class TestResult:
    exercise: str
    id: str
    name: str
    outcome: Outcome
    score: float
    max_score: float
    feedback: str = ""
    duration: float = 0.0
    visibility: Visibility = Visibility.VISIBLE
    grader_error: bool = False

    __test__ = False  # not a pytest test class

    @property
    def graded(self) -> bool:
        return self.outcome is not Outcome.NOT_GRADED

    def to_json(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "id": self.id, "name": self.name,
                "outcome": self.outcome.value, "score": self.score, "max_score": self.max_score,
                "feedback": self.feedback, "duration": round(self.duration, 4),
                "visibility": self.visibility.value, "grader_error": self.grader_error}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TestResult":
        return cls(exercise=str(data["exercise"]), id=str(data["id"]), name=str(data["name"]),
                   outcome=Outcome(data["outcome"]), score=float(data["score"]),
                   max_score=float(data["max_score"]), feedback=str(data.get("feedback", "")),
                   duration=float(data.get("duration", 0.0)),
                   visibility=Visibility(data.get("visibility", "visible")),
                   grader_error=bool(data.get("grader_error", False)))


@dataclass(frozen=True)
class ExerciseTotal:
    exercise: str
    score: float
    max_score: float
    counts: dict[Outcome, int]

    @property
    def complete(self) -> bool:
        return self.score == self.max_score


@dataclass(frozen=True)
class Report:
    exercises: tuple[str, ...]
    tests: tuple[TestResult, ...] = ()
    grader_errors: tuple[str, ...] = ()
    not_run: tuple[str, ...] = ()  # plain statements of what was not run, for the student
    duration: float = 0.0
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        """Points of every graded test; tests not graded (no data, no GPU) are not counted."""
        return sum(t.max_score for t in self.tests if t.graded)

    @property
    def has_grader_error(self) -> bool:
        return bool(self.grader_errors) or any(t.grader_error for t in self.tests)

    @property
    def all_passed(self) -> bool:
        return all(t.outcome in (Outcome.PASSED, Outcome.NOT_GRADED) for t in self.tests)

    def by_exercise(self) -> list[ExerciseTotal]:
        totals = []
        for ex in self.exercises:
            tests = [t for t in self.tests if t.exercise == ex]
            counts = {o: sum(t.outcome is o for t in tests) for o in Outcome}
            totals.append(ExerciseTotal(ex, sum(t.score for t in tests),
                                        sum(t.max_score for t in tests if t.graded), counts))
        return totals

    def common_failure(self, exercise: str) -> str | None:
        """The first feedback line when every test of ``exercise`` failed with the same one (an
        import error, a missing module, a dead worker): said once instead of once per test."""
        tests = [t for t in self.tests if t.exercise == exercise and t.graded]
        if len(tests) < 2 or any(t.outcome is Outcome.PASSED for t in tests):
            return None
        firsts = {(t.feedback.strip().splitlines() or [""])[0] for t in tests}
        return firsts.pop() if len(firsts) == 1 else None

    def to_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "max_score": self.max_score,
            "tests": [t.to_json() for t in self.tests],
            "exercises": {e.exercise: {"score": e.score, "max_score": e.max_score}
                          for e in self.by_exercise()},
            "grader_errors": list(self.grader_errors),
            "not_run": list(self.not_run),
            "duration": round(self.duration, 3),
            **({"meta": dict(self.meta)} if self.meta else {}),
        }
