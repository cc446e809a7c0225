"""Messages between the trusted test process and the untrusted worker: framing and encoding.

Nothing here ever unpickles. A frame is a JSON header plus raw tensor bytes::

    [4 bytes: header length][header: UTF-8 JSON][blob 0][blob 1]...

The header names every blob's length, and every tensor names its dtype, shape and blob, so the
receiver checks sizes before it allocates. Values are encoded as tagged JSON:

* ``None``, ``bool``, ``int``, ``float`` (``nan``/``inf`` included), ``str``, ``bytes``;
* ``list``, ``tuple``, ``dict`` (any plain keys), ``torch.Size``, ``torch.dtype``, ``torch.device``;
* tensors: CPU copies, dtype and ``requires_grad`` kept;
* anything else: a *handle* (an id in the worker's object table); the sender supplies
  ``to_handle``/``from_handle`` for its side.
"""

from __future__ import annotations

import json
import math
import socket
import struct
from dataclasses import dataclass
from typing import Any, Callable

import torch

from autograder.errors import ProtocolError

__all__ = ["Limits", "Handle", "encode", "decode", "send_frame", "recv_frame"]

_HEADER = struct.Struct("!I")

_DTYPES = {
    str(dt): dt
    for dt in (
        torch.float16, torch.bfloat16, torch.float32, torch.float64,
        torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool,
        torch.complex64, torch.complex128,
    )
}


@dataclass(frozen=True)
class Limits:
    """Caps on what a frame may hold; a frame over any cap is a ``ProtocolError``."""

    max_header_bytes: int = 16 * 2**20
    max_frame_bytes: int = 1024 * 2**20  # a VGG16 state_dict is about 135 MB
    max_depth: int = 32
    max_items: int = 1_000_000
    max_str: int = 1 * 2**20


@dataclass(frozen=True)
class Handle:
    """A reference to an object that stays in the worker."""

    id: int
    type_name: str
    module: str = ""


class _Encoder:
    def __init__(self, to_handle: Callable[[Any], dict] | None):
        self.blobs: list[bytes | memoryview] = []
        self.to_handle = to_handle

    def __call__(self, value: Any, depth: int = 0) -> Any:
        if depth > 64:
            raise ProtocolError("value nested too deeply to send")
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            return {"t": "int", "v": str(int(value))}
        if isinstance(value, float):
            v = float(value)
            return {"t": "float", "v": repr(v) if math.isfinite(v) else str(v)}
        if isinstance(value, str):
            return str(value)
        if isinstance(value, (bytes, bytearray)):
            self.blobs.append(bytes(value))
            return {"t": "bytes", "blob": len(self.blobs) - 1}
        if isinstance(value, torch.Tensor):
            return self.tensor(value)
        if isinstance(value, torch.Size):
            return {"t": "size", "v": [int(d) for d in value]}
        if isinstance(value, torch.dtype):
            return {"t": "dtype", "v": str(value)}
        if isinstance(value, torch.device):
            return {"t": "device", "v": str(value)}
        if isinstance(value, (list, tuple)):  # named tuples arrive as plain tuples
            return {"t": "list" if isinstance(value, list) else "tuple",
                    "v": [self(item, depth + 1) for item in value]}
        if isinstance(value, dict):  # an OrderedDict state_dict arrives as a dict, order kept
            return {"t": "dict", "v": [[self(k, depth + 1), self(v, depth + 1)] for k, v in value.items()]}
        if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            return self(value.item(), depth)
        if self.to_handle is None:
            raise ProtocolError(f"cannot send a {type(value).__name__} by value")
        return self.to_handle(value)

    def tensor(self, value: torch.Tensor) -> dict:
        t = torch.Tensor.detach(value)
        if t.layout != torch.strided:
            t = t.to_dense()
        t = t.cpu().contiguous()
        if str(t.dtype) not in _DTYPES:
            raise ProtocolError(f"tensors of dtype {t.dtype} cannot be sent")
        # a view of the tensor's own memory (kept alive by the list): no copy before the socket
        self.blobs.append(memoryview(t.reshape(-1).view(torch.uint8).numpy()) if t.numel() else b"")
        return {"t": "tensor", "dtype": str(t.dtype), "shape": list(t.shape),
                "grad": bool(value.requires_grad), "blob": len(self.blobs) - 1}


def encode(value: Any, to_handle: Callable[[Any], dict] | None = None) -> tuple[Any, list[bytes | memoryview]]:
    """Encode ``value``; objects that are not plain data go through ``to_handle`` (or fail)."""
    enc = _Encoder(to_handle)
    return enc(value), enc.blobs


class _Decoder:
    def __init__(self, blobs: list[memoryview], limits: Limits, from_handle: Callable[[dict], Any] | None):
        self.blobs = blobs
        self.limits = limits
        self.from_handle = from_handle
        self.items = 0
        self.shared: set[int] = set()  # blobs a tensor already uses

    def __call__(self, node: Any, depth: int = 0) -> Any:
        self.items += 1
        if self.items > self.limits.max_items or depth > self.limits.max_depth:
            raise ProtocolError("message too large or nested too deeply")
        if node is None or isinstance(node, bool):
            return node
        if isinstance(node, str):
            if len(node) > self.limits.max_str:
                raise ProtocolError("string over the size cap")
            return node
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise ProtocolError("malformed value")
        tag, v = node["t"], node.get("v")
        if tag == "int":
            if not isinstance(v, str) or len(v) > 4300:
                raise ProtocolError("malformed int")
            return int(v)
        if tag == "float":
            return float(v) if isinstance(v, str) and len(v) < 64 else _bad("float")
        if tag in ("list", "tuple"):
            items = [self(x, depth + 1) for x in _list(v)]
            return items if tag == "list" else tuple(items)
        if tag == "dict":
            out = {}
            for pair in _list(v):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ProtocolError("malformed dict")
                key = self(pair[0], depth + 1)
                try:
                    out[key] = self(pair[1], depth + 1)
                except TypeError:
                    raise ProtocolError("unhashable dict key") from None
            return out
        if tag == "size":
            return torch.Size([_int(d) for d in _list(v)])
        if tag == "dtype":
            if v not in _DTYPES:
                raise ProtocolError("unknown dtype")
            return _DTYPES[v]
        if tag == "device":
            return torch.device(str(v)[:32]) if isinstance(v, str) else _bad("device")
        if tag == "tensor":
            return self.tensor(node)
        if tag == "bytes":
            index = node.get("blob")
            if not isinstance(index, int) or not 0 <= index < len(self.blobs):
                raise ProtocolError("malformed bytes")
            return bytes(self.blobs[index])
        if tag == "handle" and self.from_handle is not None:
            return self.from_handle(node)
        raise ProtocolError(f"unknown value tag {tag!r}")

    def tensor(self, node: dict) -> torch.Tensor:
        dtype = _DTYPES.get(node.get("dtype"))
        shape = [_int(d) for d in _list(node.get("shape"))]
        index = node.get("blob")
        if dtype is None or not isinstance(index, int) or not 0 <= index < len(self.blobs):
            raise ProtocolError("malformed tensor")
        if any(d < 0 for d in shape):
            raise ProtocolError("negative tensor dimension")
        numel = math.prod(shape)
        blob = self.blobs[index]
        itemsize = torch.empty((), dtype=dtype).element_size()
        if len(blob) != numel * itemsize:
            raise ProtocolError("tensor size does not match its data")
        if index in self.shared:  # two tensors on one blob: a copy, so they never alias
            blob = memoryview(bytearray(blob))
        self.shared.add(index)
        # each blob is a bytearray of its own (``recv_frame``): the tensor takes it over, no copy
        t = torch.frombuffer(blob, dtype=torch.uint8) if numel else torch.empty(0, dtype=torch.uint8)
        t = t.view(dtype).reshape(shape)
        if node.get("grad") is True and (dtype.is_floating_point or dtype.is_complex):
            t.requires_grad_(True)
        return t


def _bad(what: str):
    raise ProtocolError(f"malformed {what}")


def _list(v: Any) -> list:
    if not isinstance(v, list):
        raise ProtocolError("malformed list")
    return v


def _int(v: Any) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise ProtocolError("malformed integer")
    return v


def decode(node: Any, blobs: list[memoryview], limits: Limits = Limits(),
           from_handle: Callable[[dict], Any] | None = None) -> Any:
    return _Decoder(blobs, limits, from_handle)(node)


def send_frame(sock: socket.socket, header: dict, blobs: list[bytes | memoryview] = ()) -> None:
    header = dict(header, blobs=[memoryview(b).nbytes for b in blobs])
    data = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(_HEADER.pack(len(data)) + data)
    for blob in blobs:
        sock.sendall(blob)


def _recv_exact(sock: socket.socket, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise EOFError("connection closed")
        got += k
    return buf


def recv_frame(sock: socket.socket, limits: Limits = Limits()) -> tuple[dict, list[memoryview]]:
    """Read one frame; raises ``EOFError`` when the peer is gone, ``ProtocolError`` on bad data."""
    (n,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if n > limits.max_header_bytes:
        raise ProtocolError("message header over the size cap")
    try:
        header = json.loads(_recv_exact(sock, n))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ProtocolError("message header is not JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError("message header is not an object")
    sizes = header.get("blobs", [])
    if not isinstance(sizes, list) or not all(isinstance(s, int) and s >= 0 for s in sizes):
        raise ProtocolError("malformed blob sizes")
    if sum(sizes) > limits.max_frame_bytes:
        raise ProtocolError(f"message over the {limits.max_frame_bytes // 2**20} MB cap")
    blobs = [memoryview(_recv_exact(sock, s)) if s else memoryview(b"") for s in sizes]
    return header, blobs
