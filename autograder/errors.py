"""Exceptions that cross the trust boundary, as seen by hidden tests in the trusted process.

``StudentError`` is an ordinary ``Exception`` so that hypothesis shrinks to the smallest input
that makes the student's code raise. The others derive from ``BaseException`` on purpose: a stub
that is not implemented or a worker that is gone fails every example the same way, so hypothesis
must stop at once instead of shrinking (and never report the test as flaky).
"""

from __future__ import annotations

from typing import Iterator


class StudentError(Exception):
    """The student's code raised an exception inside the worker."""

    def __init__(self, type_names: list[str], message: str, traceback: str = "", where: str = "",
                 causes: list[str] = ()):
        self.type_names = list(type_names)  # the exception's class and its bases, most derived first
        self.message = message
        self.traceback = traceback  # formatted with the student's own frames only
        self.where = where  # what the grader asked for, e.g. "ex2_lenet.Net(...)"
        self.causes = list(causes)  # classes (and bases) of the exceptions it was raised from or during
        super().__init__(f"{self.type_name}: {message}")

    @property
    def type_name(self) -> str:
        return self.type_names[0] if self.type_names else "Exception"

    def is_a(self, name: str) -> bool:
        """True when the student's exception is an instance of the class called ``name``."""
        return name in self.type_names

    def came_from(self, name: str) -> bool:
        """True when it is, or was raised from or while handling, an exception of class ``name``
        (``raise RuntimeError("could not build") from err`` wraps what torchvision raised)."""
        return name in self.type_names or name in self.causes


class StudentAttributeError(StudentError, AttributeError):
    """A student object has no such attribute (an ``AttributeError``, so ``hasattr`` works)."""


class StudentImportError(StudentError):
    """Importing the student's module failed (syntax error, missing module, exit at import)."""


class StudentNotImplemented(BaseException):
    """The student's code raised ``NotImplementedError`` (an untouched stub)."""

    def __init__(self, message: str, where: str = ""):
        self.message = message
        self.where = where
        super().__init__(message)


class WorkerDied(BaseException):
    """The worker process is gone; every later call in the same test fails with the same reason."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class WorkerTimeout(WorkerDied):
    """A call into the student's code ran past its time limit and the worker was stopped."""


class GraderFault(Exception):
    """A mistake of the grading suite itself (it names a reference or exercise module that does not
    exist): a grader error, never counted against the student."""


class GraderAttributeError(GraderFault, AttributeError):
    """An AttributeError too, as ``hasattr()`` and hypothesis expect of a missing attribute."""


class ProtocolError(Exception):
    """A message from the worker was malformed or over a size cap (never trusted, never unpickled)."""


def raised_from(exc: BaseException, limit: int = 5) -> Iterator[BaseException]:
    """What ``exc`` was raised from, or while handling (``__cause__``, else ``__context__``), and so
    on inwards: at most ``limit`` exceptions, each once."""
    seen, inner = {id(exc)}, exc.__cause__ or exc.__context__
    while inner is not None and id(inner) not in seen and len(seen) <= limit:
        seen.add(id(inner))
        yield inner
        inner = inner.__cause__ or inner.__context__
