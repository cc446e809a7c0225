"""Proxies: how hidden tests hold the student's objects without ever importing the student's code.

``student.ex2_lenet.Net(num_classes=7)`` returns a :class:`Proxy` for a ``Net`` that lives in the
worker; ``net(x)``, ``net.conv1.weight``, ``net.load_state_dict(sd)`` and ``list(net.parameters())``
travel as messages. Plain data and tensors come back by value; anything else comes back as another
proxy, which can be passed back to the student's code as an argument (a model into a training loop).
"""

from __future__ import annotations

from typing import Any, Iterator

from autograder.client import WorkerClient
from autograder.errors import GraderAttributeError, ProtocolError, StudentError, WorkerTimeout

__all__ = ["Proxy", "StudentNamespace", "call_keep", "LIBRARIES"]


class Proxy:
    """A student object in the worker. Attribute access, calls, indexing and iteration are remote."""

    __slots__ = ("_client", "_id", "_remote_type", "_path", "__weakref__")

    def __init__(self, client: WorkerClient, hid: int, type_name: str, path: str):
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "_id", hid)
        object.__setattr__(self, "_remote_type", type_name)
        object.__setattr__(self, "_path", path)

    def _request(self, op: str, args: list, where: str, label: str | None = None) -> Any:
        return self._client.request(op, self._id, args, where, label)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # Python's own protocol look-ups stay local
        path = f"{self._path}.{name}"
        return self._request("getattr", [name], path, label=path)

    def __setattr__(self, name: str, value: Any) -> None:
        self._request("setattr", [name, value], f"setting {self._path}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._request("call", [list(args), kwargs], f"{self._path}(...)")

    def __getitem__(self, key: Any) -> Any:
        return self._request("getitem", [key], f"{self._path}[{key!r}]", label=f"{self._path}[{key!r}]")

    def __setitem__(self, key: Any, value: Any) -> None:
        self._request("setitem", [key, value], f"setting {self._path}[{key!r}]")

    def __len__(self) -> int:
        try:
            return int(self._request("len", [], f"len({self._path})"))
        except StudentError as exc:
            if exc.is_a("TypeError"):  # list(proxy) asks for a length hint first
                raise TypeError(exc.message) from None
            raise

    def __iter__(self) -> Iterator[Any]:
        return iter(self._request("iter", [], f"iterating over {self._path}", label=f"item of {self._path}"))

    def __contains__(self, item: Any) -> bool:
        return bool(self._request("contains", [item], f"'in' on {self._path}"))

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:  # local: reprs are used by pytest and hypothesis reports
        return f"<student {self._remote_type} {self._path}>"

    def __del__(self) -> None:
        try:
            self._client.pending_release.append(self._id)
        except Exception:
            pass


def make_factory(client: WorkerClient):
    def factory(node: dict, label: str | None) -> Proxy:
        hid, type_name = node.get("id"), node.get("type")
        if not isinstance(hid, int) or not isinstance(type_name, str):
            raise ProtocolError("malformed handle")
        return Proxy(client, hid, type_name[:100], label or type_name[:100])

    return factory


#: Libraries a test may use *inside the worker* (to build a loader, a loss, an optimizer there):
#: ``student.torch.nn.CrossEntropyLoss()``, ``student.tools.RecordingLoader(...)``.
LIBRARIES = {"torch": "torch", "torchvision": "torchvision", "tools": "autograder.worker_tools",
             "fastpath": "autograder.fastpath"}


def call_keep(fn: Proxy, *args: Any, **kwargs: Any) -> Proxy:
    """Call ``fn`` in the worker and keep the result there, as a proxy, even when it is plain data
    (a list of the model's parameters, to hand to an optimizer built in the worker)."""
    if not isinstance(fn, Proxy):
        if callable(fn):  # mode "direct" (benchmarks): the student's code is in this process
            return fn(*args, **kwargs)
        raise TypeError("call_keep needs a proxy to a callable in the worker")
    return fn._request("call_keep", [list(args), kwargs], f"{fn._path}(...)")


class StudentNamespace:
    """``student.<module>`` imports that exercise module in the worker and returns its proxy;
    ``student.torch``, ``student.torchvision`` and ``student.tools`` are the worker's libraries."""

    def __init__(self, client: WorkerClient, modules: tuple[str, ...], timed_out: dict[str, str] | None = None,
                 notebooks: dict[str, str] | None = None):
        client.handle_factory = make_factory(client)
        self._client = client
        self._allowed = modules  # the manifest's exercise modules, e.g. ("ex1_shapes", "ex2_lenet")
        self._modules: dict[str, Proxy | StudentError] = {}
        # modules whose import ran out of time in an earlier test of this run (shared by the run's
        # tests): importing runs the same top-level code again, so it is not waited for again
        self._timed_out = timed_out if timed_out is not None else {}
        self._notebooks = notebooks or {}  # module -> the notebook its cells come from

    def __getattr__(self, name: str) -> Proxy:
        if name in LIBRARIES and name not in self._modules:
            self._modules[name] = self._client.request("import", None, [LIBRARIES[name]], f"importing {name}", name)
        if name not in self._allowed and name not in LIBRARIES:
            raise GraderAttributeError(f"{name} is not an exercise module of this assignment "
                                 f"({', '.join(self._allowed)})")
        if name not in self._modules:
            if name in self._timed_out:
                raise WorkerTimeout(self._timed_out[name])
            dead_already = self._client.dead is not None  # then the import itself did not time out
            try:
                what = (f"importing {name}.py (made from the {name} cells of {self._notebooks[name]})"
                        if name in self._notebooks else f"importing {name}.py")
                self._modules[name] = self._client.request("import", None, [name], what, name)
            except StudentError as exc:  # a module that fails to import fails the same way every time
                notebooks = sorted(set(self._notebooks.values()))
                if notebooks and exc.message == f"your submission has no {name}.py":  # a notebook submission
                    exc = StudentError(exc.type_names, (
                        f"{', '.join(notebooks)} has no cell for {name}.py: not started yet? Give its cells "
                        f"the tag {name} (or put them under a markdown heading '## {name}', or one naming "
                        "the exercise)"), "", exc.where, exc.causes)
                self._modules[name] = exc
            except WorkerTimeout as exc:
                if dead_already:
                    raise
                advice = (f"every cell of {self._notebooks[name]} that goes into {name}.py runs when the "
                          "grader imports it: give the cells that train, plot, download or run a demo the "
                          "cell tag `skip`" if name in self._notebooks else
                          f"code at the top level of {name}.py runs when the grader imports it: put "
                          "training, plots or downloads under `if __name__ == \"__main__\":`")
                self._timed_out[name] = (
                    f"{exc.reason}. {advice[0].upper()}{advice[1:]} (this import timed out once, so the "
                    "later tests of this run fail at once instead of waiting again)")
                raise WorkerTimeout(self._timed_out[name]) from None
        module = self._modules[name]
        if isinstance(module, StudentError):
            raise module
        return module
