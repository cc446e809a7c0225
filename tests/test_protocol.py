from __future__ import annotations

import json
import math
import socket
import struct

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.errors import ProtocolError
from autograder.protocol import Limits, decode, encode, recv_frame, send_frame

plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=4),
    max_leaves=20)


def roundtrip(value, limits=Limits()):
    a, b = socket.socketpair()
    with a, b:
        node, blobs = encode(value)
        send_frame(a, {"value": node}, blobs)
        header, got = recv_frame(b, limits)
        return decode(header["value"], got, limits)


@settings(max_examples=60, derandomize=True, database=None)
@given(plain)
def test_plain_values_round_trip_exactly(value):
    got = roundtrip(value)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16,
                                   torch.int64, torch.uint8, torch.bool])
def test_tensors_round_trip_with_dtype_and_shape(dtype):
    t = (torch.arange(24).reshape(2, 3, 4) % 3).to(dtype)
    got = roundtrip({"t": t, "view": t[:, 1:, ::2]})
    assert got["t"].dtype == dtype and torch.equal(got["t"], t)
    assert torch.equal(got["view"], t[:, 1:, ::2])


def test_requires_grad_survives_and_special_values_too():
    w = torch.nn.Parameter(torch.randn(3))
    got = roundtrip([w, torch.Size([2, 3]), torch.float16, torch.device("cpu"), math.inf, -math.inf, 10**40,
                     b"\x00\xffraw"])
    assert got[0].requires_grad and not isinstance(got[0], torch.nn.Parameter)
    assert got[1:] == [torch.Size([2, 3]), torch.float16, torch.device("cpu"), math.inf, -math.inf, 10**40,
                       b"\x00\xffraw"]
    assert math.isnan(roundtrip(math.nan))


def test_empty_tensor_round_trips():
    assert roundtrip(torch.zeros(0, 3)).shape == (0, 3)


def test_objects_are_not_sent_by_value_without_a_handle_table():
    with pytest.raises(ProtocolError, match="cannot send"):
        encode(object())


def test_objects_become_handles_when_the_sender_has_a_table():
    node, _ = encode([1, object()], to_handle=lambda obj: {"t": "handle", "id": 7})
    assert node["v"][1] == {"t": "handle", "id": 7}
    with pytest.raises(ProtocolError, match="unknown value tag"):
        decode(node, [])  # a receiver without a handle factory refuses handles


def raw_frame(header: dict) -> bytes:
    data = json.dumps(header).encode()
    return struct.pack("!I", len(data)) + data


@pytest.mark.parametrize("node, blobs, message", [
    ({"t": "tensor", "dtype": "torch.float32", "shape": [1000], "blob": 0}, [b"\0" * 8], "does not match"),
    ({"t": "tensor", "dtype": "torch.float32", "shape": [2], "blob": 3}, [b"\0" * 8], "malformed tensor"),
    ({"t": "tensor", "dtype": "torch.object", "shape": [2], "blob": 0}, [b"\0" * 8], "malformed tensor"),
    ({"t": "tensor", "dtype": "torch.uint8", "shape": [-1, -8], "blob": 0}, [b"\0" * 8], "negative"),
    ({"t": "pickle", "v": "gASVAAAA"}, [], "unknown value tag"),
    ({"t": "int", "v": "9" * 5000}, [], "malformed int"),
    ({"t": "dict", "v": [[{"t": "list", "v": []}, None]]}, [], "unhashable"),
    ([1, 2], [], "malformed value"),
])
def test_malformed_values_are_refused(node, blobs, message):
    with pytest.raises(ProtocolError, match=message):
        decode(node, [memoryview(b) for b in blobs])


def test_nesting_and_item_caps_are_enforced():
    deep = {"t": "list", "v": []}
    for _ in range(100):
        deep = {"t": "list", "v": [deep]}
    with pytest.raises(ProtocolError, match="nested"):
        decode(deep, [])
    wide = {"t": "list", "v": [None] * 50}
    with pytest.raises(ProtocolError):
        decode(wide, [], Limits(max_items=10))


@pytest.mark.parametrize("payload, message", [
    (struct.pack("!I", 2**31), "header over the size cap"),
    (struct.pack("!I", 3) + b"{x]", "not JSON"),
    (struct.pack("!I", 2) + b"[]", "not an object"),
    (raw_frame({"blobs": "x"}), "malformed blob sizes"),
])
def test_malformed_frames_are_refused(payload, message):
    a, b = socket.socketpair()
    with a, b:
        a.sendall(payload)
        with pytest.raises(ProtocolError, match=message):
            recv_frame(b)


def test_frames_over_the_size_cap_are_refused_before_reading_them():
    a, b = socket.socketpair()
    with a, b:
        data = json.dumps({"blobs": [999_999_999]}).encode()
        a.sendall(struct.pack("!I", len(data)) + data)
        with pytest.raises(ProtocolError, match="cap"):
            recv_frame(b, Limits(max_frame_bytes=1000))


def test_a_closed_connection_is_eof():
    a, b = socket.socketpair()
    a.close()
    with b, pytest.raises(EOFError):
        recv_frame(b)


def test_zero_dim_tensors_of_every_width_round_trip():
    values = [torch.tensor(5), torch.tensor(1.5), torch.tensor(True), torch.tensor(2.0, dtype=torch.float64)]
    for value, got in zip(values, roundtrip(values)):
        assert got.shape == () and got.dtype == value.dtype and torch.equal(got, value)


def test_sent_tensors_are_snapshots_and_received_ones_never_alias():
    sent = torch.arange(6, dtype=torch.float32)
    node, blobs = encode({"a": sent})
    a, b = socket.socketpair()
    with a, b:
        send_frame(a, {"value": node}, blobs)
        sent.add_(100)  # after sending: the receiver has the values as they were sent
        header, got = recv_frame(b)
    value = decode(header["value"], got)["a"]
    torch.testing.assert_close(value, torch.arange(6, dtype=torch.float32))
    # A (hostile) frame whose two tensors name one blob gets two independent tensors.
    twin = {"t": "tensor", "dtype": "torch.float32", "shape": [2], "blob": 0}
    first, second = decode({"t": "list", "v": [twin, twin]}, [memoryview(bytearray(8))])
    first.add_(1)
    assert float(second.abs().sum()) == 0, "two tensors decoded from one blob share memory"
