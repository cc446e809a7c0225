"""What hidden and public test suites import: fixtures come from the engine's pytest plugin
(``student``, ``reference``); this module gives the helpers that read naturally in a test.

Tests never see the student's objects directly: ``student.ex2_lenet.Net(7)`` returns a proxy to an
object living in the worker process. Plain data (numbers, strings, lists, tuples, dicts, tensors)
comes back by value; everything else (modules, generators, functions) comes back as another proxy.
The helpers below work the same on proxies and on real objects.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from typing import Callable, Iterator, TypeVar

import pytest

from autograder.errors import (StudentAttributeError, StudentError, StudentImportError, StudentNotImplemented,
                               WorkerDied, WorkerTimeout)
from autograder.outcomes import CALLED_AS
from autograder.proxy import Proxy, call_keep

T = TypeVar("T")

__all__ = [
    "once_per_batch",
    "StudentAttributeError",
    "StudentError",
    "StudentImportError",
    "StudentNotImplemented",
    "WorkerDied",
    "WorkerTimeout",
    "Raised",
    "student_raises",
    "not_graded",
    "NotGraded",
    "type_name",
    "call_keep",
    "student_error_text",
    "call_forward",
    "called_as",
    "name_list",
]


@dataclass
class Raised:
    """What the student's code raised inside a ``student_raises`` block."""

    type_name: str = ""
    message: str = ""
    type_names: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)  # classes of what it was raised from, or during


@contextlib.contextmanager
def student_raises(expected: str, what: str = "this call") -> Iterator[Raised]:
    """Assert that the block makes the student's code raise an exception of class ``expected``
    (by name, subclasses included), e.g. ``with student_raises("ValueError", "kernel_size=0"):``.

    ``NotImplementedError`` is never taken as the expected exception: it propagates, so an
    untouched stub is reported as not implemented.
    """
    raised = Raised()
    try:
        yield raised
    except StudentImportError:
        raise  # the module did not even import: reported as such, not as a wrong exception
    except StudentError as exc:
        if not exc.is_a(expected):
            raise AssertionError(
                f"{what} should raise {expected}, but your code raised {exc.type_name}: {exc.message}"
            ) from None
        raised.type_name, raised.message, raised.type_names = exc.type_name, exc.message, exc.type_names
        raised.causes = exc.causes
        return
    except (NotImplementedError, StudentNotImplemented):
        raise
    except Exception as exc:  # direct (in-process) mode: a real exception from the student's code
        names = [cls.__name__ for cls in type(exc).__mro__]
        if expected not in names:
            raise AssertionError(
                f"{what} should raise {expected}, but your code raised {type(exc).__name__}: {exc}"
            ) from None
        raised.type_name, raised.message, raised.type_names = type(exc).__name__, str(exc), names
        return
    raise AssertionError(f"{what} should raise {expected}, but your code returned normally")


class NotGraded(pytest.skip.Exception):
    """Skip a test as *not graded* (with the reason): never passed, never a silent zero."""


def not_graded(reason: str) -> None:
    """Stop the current test and report it as not graded, e.g. ``not_graded("CIFAR-10 not found")``."""
    raise NotGraded(msg=reason)


def type_name(obj: object) -> str:
    """The class name of a student object (``"Conv2d"``), for a proxy or a real object alike."""
    if isinstance(obj, Proxy):
        return obj._remote_type
    return type(obj).__name__


@contextlib.contextmanager
def called_as(description: str) -> Iterator[None]:
    """Say, in the feedback of an exception the student's code raises inside the block, which call
    it was (``train_one_epoch(...) on a loader of 5 samples in batches of 8``): a traceback shows
    where the code failed, not on what input."""
    try:
        yield
    except StudentImportError:
        raise  # the module did not import: said as such, whatever the call
    except StudentError as exc:
        exc.add_note(CALLED_AS + description)
        raise


def student_error_text(exc: BaseException) -> tuple[str, str, str] | None:
    """``(type name, message, student traceback)`` when ``exc`` came from the student's code (in
    the worker, or in-process in direct mode); None for a stub not implemented or a grader error."""
    if isinstance(exc, (NotImplementedError, StudentNotImplemented)):
        return None
    if isinstance(exc, StudentError):
        return exc.type_name, exc.message, exc.traceback
    if isinstance(exc, Exception) and not type(exc).__module__.startswith(("autograder", "hypothesis", "_pytest")):
        return type(exc).__name__, str(exc), ""  # direct (in-process) mode
    return None


#: PyTorch's words for mixed dtypes, whichever layer meets them first.
_DTYPE_HINTS = tuple((key, "the grader's inputs are float32, torch's default: do not change the default "
                      "dtype (torch.set_default_dtype) or convert the model or the input to another dtype")
                     for key in ("dtype", "scalar type", "Input type (", "type (double)", "type (float)"))


def call_forward(net: object, x: object, what: str, hints: tuple[tuple[str, str], ...] = (),
                 default_hint: str = "print x.shape after each layer and compare with the shapes in the handout"):
    """``net(x)`` as a detached tensor. When the student's forward pass raises, the test errors
    with what was called, the student's exception, the advice of the first ``(substring of the
    message, advice)`` pair in ``hints`` that matches (``advice`` may be a function of the message),
    and the student's own traceback; a stub
    still counts as not implemented, and a result that is not one tensor fails with a message."""
    import torch

    try:
        out = net(x)
    except BaseException as exc:
        found = student_error_text(exc)
        if found is None:
            raise
        name, message, trace = found
        hint = next((advice(message) if callable(advice) else advice
                     for key, advice in hints + _DTYPE_HINTS if key in message), None) or default_hint
        names = exc.type_names if isinstance(exc, StudentError) else [c.__name__ for c in type(exc).__mro__]
        raise StudentError(names, f"{message}. Hint: {hint}.", trace, where=what) from None
    assert isinstance(out, torch.Tensor), (
        f"{what}: forward must return one tensor, but it returned a {type_name(out)}")
    return out.detach()


def once_per_batch(fn: Callable[..., T]) -> Callable[..., T]:
    """Memoize a reference-side value that does not depend on the submission (the reference
    model with seeded weights, its logits on seeded inputs, what PyTorch's own layer gives).

    The batch server (:mod:`autograder.server`) grades the reference once before the batch; every
    submission's test process is a fork of it and inherits the filled cache, so such values are
    computed once per batch, not once per student. Arguments must be hashable (the ``reference``
    fixture is: it compares by folder); a cached value is shared, so tests must treat it as
    read-only (never train, mutate or ``load_state_dict`` into a cached model)."""
    return functools.cache(fn)


def name_list(names, limit: int = 6) -> str:
    """``a, b, c and 4 more``: the first ``limit`` names, for an assertion message."""
    names = list(names)
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")

