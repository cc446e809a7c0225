"""From a test's exception to an outcome and feedback a student can learn from.

Only messages written for students reach feedback: assertion messages, the student's own
exception and traceback (their frames only), the worker's death or timeout reason, and hypothesis's
smallest failing input. Never the hidden test's source or a trusted-side traceback.
"""

from __future__ import annotations

import builtins
import re
import traceback
import types

from autograder.errors import (GraderFault, StudentError, StudentImportError, StudentNotImplemented, WorkerDied,
                               WorkerTimeout)
from autograder.results import Outcome

__all__ = ["Verdict", "classify", "debug_detail", "FEEDBACK_CAP", "UNUSABLE_VALUE"]

FEEDBACK_CAP = 4000
_GROUPS = tuple(c for c in (getattr(builtins, "BaseExceptionGroup", None),) if c)  # Python 3.11+
_VALUE_ERRORS = (TypeError, AttributeError, ValueError, IndexError, KeyError, RuntimeError)

Verdict = tuple[Outcome, str, bool]  # outcome, feedback, grader_error


#: How a failure blamed on a value the student returned starts.
UNUSABLE_VALUE = "your code returned a value the checks could not use"

#: Prefix of an exception note that names the student's call in words (testing.called_as).
CALLED_AS = "called as: "


def _smallest_input(exc: BaseException) -> str:
    for note in getattr(exc, "__notes__", ()) or ():
        if isinstance(note, str) and note.startswith(("Falsifying example", "Falsifying explicit example")):
            inner = note[note.find("(") + 1: note.rfind(")")] if "(" in note else ""
            args = [line.strip().rstrip(",") for line in inner.splitlines() if line.strip()]
            args = [a for a in args if not a.startswith(("student=", "reference=", "self="))]
            if args:
                return "smallest failing input: " + ", ".join(args)
    return ""


#: What the grader's helpers in the worker (``tools.*``) run of the student's code, in the words a
#: student knows: "tools.train_step: your code raised" says nothing to them.
_TOOL_CALLS = {
    "train_step": "one training step (forward pass, cross-entropy loss, loss.backward(), optimizer.step())",
    "build_filled": "building the network", "build_on_meta": "building the network",
    "feature_shapes": "a forward pass", "input_grad": "a forward and backward pass",
    "call_twice": "calling your function twice", "call_no_grad": "a forward pass under torch.no_grad()",
}


#: PyTorch's words for mistakes students make in any exercise, and what to do (when the test gave
#: no hint of its own).
_KNOWN_ERRORS = (
    ("cannot assign module before Module.__init__() call",
     "call super().__init__() first in __init__, before creating any layer"),
    ("is not a Module subclass",
     "nn.Sequential takes the modules themselves, not a list of them: nn.Sequential(*layers)"),
    ("Expected more than 1 value per channel when training",
     "batch norm cannot train on a batch of one sample: the data loader's drop_last=True avoids it"),
    ("Weights only load failed",
     "the file holds more than tensors: save model.state_dict() (torch.save(model.state_dict(), path)) "
     "and keep weights_only=True, which never runs code from a file"),
    ("not all arguments converted during string formatting",
     "% was applied to a str, where it formats text: a string reached code that expects a number, "
     "e.g. a layer built with 'M' as its channel count (update the channel count only after a convolution)"),
    ("Expected state_dict to be dict-like",
     "load_state_dict takes a state_dict: the file was saved from the model itself, not model.state_dict()"),
)


def _where(where: str) -> str:
    where = re.sub(r"\(\.\.\.\)$", "", where)  # "ex1_shapes.f(...)" -> "ex1_shapes.f"
    if where.startswith("tools."):
        return _TOOL_CALLS.get(where.removeprefix("tools."), "a check that runs your code")
    return where or "your code"


def classify(exc: BaseException | None, skipped_reason: str | None = None) -> Verdict:
    """The verdict for one phase of a test; ``exc`` is None when the phase passed."""
    if skipped_reason is not None:
        return Outcome.NOT_GRADED, skipped_reason, False
    if exc is None:
        return Outcome.PASSED, "", False
    if isinstance(exc, _GROUPS) and exc.exceptions:  # several distinct failures: the first
        return classify(exc.exceptions[0])
    if isinstance(exc, GraderFault) or _reference_lacks(exc):
        return (Outcome.ERROR, f"the grader failed on this test, not because of your code ({type(exc).__name__}); "
                f"tell your instructor", True)
    if isinstance(exc, StudentNotImplemented) or type(exc) is NotImplementedError:
        where = _where(getattr(exc, "where", ""))
        return Outcome.NOT_IMPLEMENTED, f"not implemented yet: {where} raises NotImplementedError", False
    if isinstance(exc, WorkerTimeout):
        return Outcome.TIMEOUT, exc.reason, False
    if isinstance(exc, WorkerDied):
        return Outcome.ERROR, exc.reason, False
    if isinstance(exc, StudentError):
        text = f"your code raised {exc.type_name}: {exc.message}"
        advice = next((hint for key, hint in _KNOWN_ERRORS if key in exc.message), None)
        if advice and "Hint:" not in exc.message:
            text += f" Hint: {advice}."
        calls = [n[len(CALLED_AS):] for n in getattr(exc, "__notes__", ()) if str(n).startswith(CALLED_AS)]
        if calls:
            text = f"{calls[-1]}: {text}"  # the outermost call the test named
        elif exc.where:
            text = f"{_where(exc.where)}: {text}"
        if exc.traceback:
            text += "\n" + exc.traceback.rstrip()
        hint = "" if isinstance(exc, StudentImportError) else _smallest_input(exc)
        return Outcome.ERROR, _join(text, hint), False
    if isinstance(exc, AssertionError):
        message = str(exc).strip() or "a check failed (the test gave no message)"
        return Outcome.FAILED, _join(message, _smallest_input(exc)), False
    name = type(exc).__name__
    if isinstance(exc, _VALUE_ERRORS):
        # Raised by the test's own code on a value the student returned (a tuple where a tensor
        # was expected, a state_dict with the wrong shapes): the student's failure, not the grader's.
        return (Outcome.FAILED, _join(f"{UNUSABLE_VALUE} ({name}: {_first_line(exc)})", _smallest_input(exc)),
                False)
    if name in ("Flaky", "FlakyFailure", "FlakyStrategyDefinition"):
        return (Outcome.ERROR, "your code gave different results for the same input on different "
                "runs (does it use unseeded randomness or global state?)", False)
    # Only the exception's type: its message could quote the hidden test (a name, a value).
    return (Outcome.ERROR, f"the grader failed on this test, not because of your code ({name}); "
            f"tell your instructor", True)


def _reference_lacks(exc: BaseException) -> bool:
    """An attribute the test asked of a reference solution module (a typo in the test)."""
    obj = getattr(exc, "obj", None) if isinstance(exc, AttributeError) else None
    return isinstance(obj, types.ModuleType) and obj.__name__.startswith("_reference_")


def debug_detail(exc: BaseException, frames: int = 8) -> str:
    """The trusted side's traceback of ``exc`` (its last ``frames`` frames), for an instructor
    debugging a hidden test: it quotes hidden test source, so it never goes into a student's feedback."""
    try:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-frames))
    except Exception as inner:  # noqa: BLE001 - a detail must never turn into a grader crash
        text = f"(the traceback could not be formatted: {type(inner).__name__})"
    return "[--debug: the grading test's own traceback, never shown to students]\n" + text[-2500:]


def _first_line(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        return ""
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def _join(*parts: str) -> str:
    return "\n".join(p for p in parts if p)[:FEEDBACK_CAP]
