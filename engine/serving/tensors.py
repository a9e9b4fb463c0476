"""Open Inference Protocol v2 tensors <-> rows: one named tensor per input column.

A request's tensors arrive as JSON ``data`` (flat or nested row-major lists) or, with the
binary tensor data extension Triton's clients use by default, as raw little-endian bytes after
the JSON header (``Inference-Header-Content-Length``). No numpy: the standard ``array`` module
reads the numbers, so the scorer stays lean.
"""

from __future__ import annotations

import array
import math
import struct
import sys
from collections.abc import Iterator
from typing import Any

from engine.serving.scoring import RequestError

_INTEGER = ("tinyint", "smallint", "int", "bigint")
_NUMBER = (*_INTEGER, "float", "double")

# datatype -> array typecode (fixed-size numbers)
_CODES = {
    "INT8": "b",
    "INT16": "h",
    "INT32": "i",
    "INT64": "q",
    "UINT8": "B",
    "UINT16": "H",
    "UINT32": "I",
    "UINT64": "Q",
    "FP32": "f",
    "FP64": "d",
}
DATATYPES = (*_CODES, "BOOL", "BYTES")


def datatype_of(ctype: str) -> str:
    """The tensor datatype of a column type: numbers INT64/FP64, booleans BOOL, the rest
    (text, dates, timestamps) BYTES."""
    if ctype in _INTEGER:
        return "INT64"
    if ctype in _NUMBER or ctype.startswith("decimal"):
        return "FP64"
    if ctype == "boolean":
        return "BOOL"
    return "BYTES"


def _flatten(data: Any) -> Iterator[Any]:
    for v in data:
        if isinstance(v, list):
            yield from _flatten(v)
        else:
            yield v


def _elements(shape: Any, name: str) -> int:
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise RequestError(400, f'Input "{name}" needs "shape": a list of sizes, e.g. [3].')
    return math.prod(shape)


def _from_json(tensor: dict[str, Any], name: str, datatype: str) -> list[Any]:
    data = tensor.get("data")
    if not isinstance(data, list):
        raise RequestError(400, f'Input "{name}" needs "data": a list of values.')
    values = list(_flatten(data))
    if datatype == "BOOL":
        return [bool(v) if isinstance(v, (bool, int)) else v for v in values]
    return values


def _split_bytes(raw: bytes, name: str) -> list[Any]:
    """BYTES elements: each a 4-byte little-endian length, then that many bytes."""
    out: list[Any] = []
    pos = 0
    while pos < len(raw):
        if pos + 4 > len(raw):
            raise RequestError(400, f'Input "{name}": binary BYTES data is truncated.')
        (size,) = struct.unpack_from("<I", raw, pos)
        chunk = raw[pos + 4 : pos + 4 + size]
        if len(chunk) != size:
            raise RequestError(400, f'Input "{name}": binary BYTES data is truncated.')
        try:
            out.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            raise RequestError(
                400, f'Input "{name}" holds bytes that are not UTF-8 text.'
            ) from None
        pos += 4 + size
    return out


def _from_binary(raw: bytes, name: str, datatype: str) -> list[Any]:
    if datatype == "BYTES":
        return _split_bytes(raw, name)
    if datatype == "BOOL":
        return [b != 0 for b in raw]
    values = array.array(_CODES[datatype])
    if len(raw) % values.itemsize:
        raise RequestError(400, f'Input "{name}": binary data is not a whole number of {datatype}.')
    values.frombytes(raw)
    if sys.byteorder != "little":
        values.byteswap()
    return values.tolist()


def _missing_as_none(values: list[Any], datatype: str) -> list[Any]:
    """NaN in a float tensor (and null in JSON data) is a missing value, as null is in v1."""
    if datatype in ("FP32", "FP64"):
        return [None if isinstance(v, float) and v != v else v for v in values]
    return values


def read_tensors(header: dict[str, Any], binary: bytes) -> dict[str, list[Any]]:
    """The request's input tensors by name, as flat lists of Python values (one per row: the
    first dimension, which every tensor must share)."""
    inputs = header.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise RequestError(400, 'The body needs "inputs": a list of named tensors, one per column.')
    columns: dict[str, list[Any]] = {}
    batch, offset = None, 0
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise RequestError(400, f'inputs[{i}] must be an object with a "name".')
        name, datatype = tensor["name"], tensor.get("datatype")
        if datatype not in DATATYPES:
            raise RequestError(
                400, f'Input "{name}" has datatype {datatype!r}; use one of {", ".join(DATATYPES)}.'
            )
        shape = tensor.get("shape")
        count = _elements(shape, name)
        size = (tensor.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                raise RequestError(400, f'Input "{name}": binary_data_size does not fit the body.')
            values = _from_binary(binary[offset : offset + size], name, datatype)
            offset += size
        else:
            values = _from_json(tensor, name, datatype)
        if len(values) != count:
            raise RequestError(
                400, f'Input "{name}" has {len(values)} values but its shape {shape} says {count}.'
            )
        rows = shape[0] if shape else 1
        if batch is None:
            batch = rows
        elif rows != batch:
            raise RequestError(
                400,
                f'Input "{name}" has {rows} rows; the other inputs have {batch}. '
                "Send one value per row for every column.",
            )
        if rows and count != rows:
            raise RequestError(400, f'Input "{name}" must hold one value per row: shape [{rows}].')
        columns[name] = _missing_as_none(values, datatype)
    return columns


def rows_of(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def tensor(name: str, datatype: str, data: list[Any]) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": [len(data)], "data": data}


def binary_tensor(datatype: str, data: list[Any]) -> bytes:
    """An output tensor as binary tensor data (little-endian; BYTES length-prefixed)."""
    if datatype == "BYTES":
        return b"".join(struct.pack("<I", len(b)) + b for b in (v.encode() for v in data))
    values = array.array(_CODES[datatype], data)
    if sys.byteorder != "little":
        values.byteswap()
    return values.tobytes()
