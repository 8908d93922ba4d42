"""A safe wire format between the batch grader and a sandboxed worker: values, not code.

The worker runs untrusted learner code, so everything it sends is treated as hostile data: no
``pickle``, no object construction beyond a fixed set of types, bounded sizes. A message is one
frame, ``8-byte big-endian length + payload``; the payload is ``4-byte header length + JSON header +
raw array bytes``. The JSON header is a tree of tagged nodes:

``none``, ``bool``, ``int``, ``float`` (``repr``, so ``nan``/``inf`` survive), ``str``, ``list``, ``tuple``,
``dict`` (a list of key/value pairs), ``nd`` (an ndarray: dtype, shape, index of its bytes), ``np`` (a
NumPy scalar), ``torch`` (a tensor, sent as its array), ``gen`` (a ``numpy.random.Generator``, sent as
its bit generator's state so that the learner can draw from it remotely), ``handle`` (anything else:
an object that stays in the worker, referred to by a number and its type's name), ``model`` (one of
the grader's own small NumPy models of :mod:`course_lib.grading.models`, e.g. the next-token table a
learner's beam search queries: sent as its name and arrays, and rebuilt only on the worker's side).

Only numeric and boolean dtypes cross (no ``object``, no structured arrays). :func:`decode` checks
every node and raises :class:`WireError` on anything else, so a malformed or malicious frame costs
the sender its answer and nothing more.
"""
from __future__ import annotations

import json
import math
import os
import select
import struct
import time

import numpy as np

__all__ = ["WireError", "Handle", "Model", "encode", "decode", "send", "recv", "MAX_FRAME", "DTYPES"]

MAX_FRAME = 256 * 2**20          # bytes in one message
MAX_HEADER = 16 * 2**20          # bytes of JSON in one message
MAX_DEPTH = 32
MAX_NODES = 200_000
MAX_STR = 2**20                  # characters in one string
DTYPES = frozenset(np.dtype(t).str for t in (
    "?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"))
_GEN_BITS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class WireError(ValueError):
    """A frame that is malformed, too large, or holds a type that may not cross."""


class Handle:
    """An object that stays on the other side (a model, a closure, an iterator): its id and type name.

    The grader shows ``type_name`` in messages (it is the learner's string: sanitise before reporting).
    """

    __slots__ = ("id", "type_name", "is_callable")

    def __init__(self, id_: int, type_name: str, is_callable: bool):
        self.id, self.type_name, self.is_callable = int(id_), str(type_name)[:100], bool(is_callable)

    def __repr__(self) -> str:
        return f"<remote {self.type_name} #{self.id}>"


class Model:
    """Base of the grader's models that cross to the worker as data (see :mod:`.models`): a subclass
    sets ``wire_name`` and ``wire_state()`` (a dict of str -> ndarray/int/float) and is rebuilt on the
    other side by ``cls(**state)``. Only the grader sends them (``encode(..., models=True)``); a worker's
    reply that holds one is refused by :func:`decode` unless a ``model_of`` is given."""

    wire_name = ""

    def wire_state(self) -> dict:  # pragma: no cover - every subclass defines it
        raise NotImplementedError


# ----------------------------------------------------------------------------- encoding
def encode(value, handles=None, generators=None, models=False) -> bytes:
    """``value`` as a payload. ``handles``: a callable ``obj -> (id, type_name, is_callable)`` for
    objects that cannot cross (``None``: such objects are an error). ``generators``: a list that
    receives every ``numpy.random.Generator`` encoded, in order (the worker sends their states back).
    ``models``: send :class:`Model` instances as data (the grader's side only; otherwise they are
    objects like any other)."""
    blobs: list[bytes] = []
    count = [0]

    def node(v, depth):
        count[0] += 1
        if depth > MAX_DEPTH or count[0] > MAX_NODES:
            raise WireError("the value is nested too deeply or has too many parts to send")
        if v is None:
            return {"t": "none"}
        if isinstance(v, Handle):
            return {"t": "handle", "id": v.id, "type": v.type_name, "call": v.is_callable}
        if models and isinstance(v, Model):
            state = v.wire_state()
            if type(state) is not dict or not all(isinstance(k, str) for k in state):
                raise WireError(f"{type(v).__name__}.wire_state() must return a dict with str keys")
            return {"t": "model", "name": str(v.wire_name), "state": node(state, depth + 1)}
        if isinstance(v, (bool, np.bool_)) and not isinstance(v, np.ndarray):
            return {"t": "bool", "v": bool(v)} if isinstance(v, bool) else _scalar(v)
        if isinstance(v, np.generic):
            return _scalar(v)
        if isinstance(v, int):
            return {"t": "int", "v": str(v)}
        if isinstance(v, float):
            return {"t": "float", "v": repr(v)}
        if isinstance(v, str):
            if len(v) > MAX_STR:
                raise WireError(f"a string of {len(v)} characters is too long to send")
            return {"t": "str", "v": v}
        if isinstance(v, np.ndarray):
            return _array(v)
        if type(v).__module__.split(".")[0] == "torch" and type(v).__name__ in ("Tensor", "Parameter"):
            return {"t": "torch", "a": _array(v.detach().cpu().numpy())}
        if isinstance(v, np.random.Generator) and type(v.bit_generator).__name__ in _GEN_BITS:
            if generators is not None:
                generators.append(v)
            return {"t": "gen", "state": _jsonable(v.bit_generator.state)}
        if isinstance(v, (list, tuple)) and type(v) in (list, tuple):
            return {"t": type(v).__name__, "v": [node(x, depth + 1) for x in v]}
        if isinstance(v, dict) and type(v) is dict:
            return {"t": "dict", "v": [[node(k, depth + 1), node(x, depth + 1)] for k, x in v.items()]}
        if handles is None:
            raise WireError(f"a value of type {type(v).__name__} cannot be sent")
        id_, name, is_callable = handles(v)
        return {"t": "handle", "id": id_, "type": name, "call": is_callable}

    def _scalar(v):
        arr = np.asarray(v)
        if arr.dtype.str not in DTYPES and arr.dtype.str != "|b1":
            raise WireError(f"NumPy scalars of dtype {arr.dtype} cannot be sent")
        return {"t": "np", "a": _array(arr.reshape(()))}

    def _array(a):
        a = np.asarray(a)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if dt.str not in DTYPES and dt.str != "|b1":
            raise WireError(f"arrays of dtype {a.dtype} cannot be sent (only numbers and booleans)")
        data = np.ascontiguousarray(a, dtype=dt).tobytes()
        blobs.append(data)
        return {"t": "nd", "dtype": dt.str, "shape": [int(s) for s in a.shape], "b": len(blobs) - 1}

    header = json.dumps(node(value, 0), ensure_ascii=True, allow_nan=False).encode("ascii")
    if len(header) > MAX_HEADER:
        raise WireError("the value is too large to send")
    body = b"".join([struct.pack(">I", len(header)), header, struct.pack(">I", len(blobs))]
                    + [struct.pack(">Q", len(b)) for b in blobs] + blobs)
    if len(body) > MAX_FRAME:
        raise WireError(f"the value is too large to send ({len(body)} bytes; at most {MAX_FRAME})")
    return body


def _jsonable(state):
    """A bit generator's state with NumPy integers and arrays as plain lists and ints."""
    if isinstance(state, dict):
        return {str(k): _jsonable(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return [int(x) for x in state.ravel()]
    if isinstance(state, (np.integer, int)):
        return int(state)
    if isinstance(state, str):
        return state
    raise WireError(f"a random generator state holds an unexpected {type(state).__name__}")


# ----------------------------------------------------------------------------- decoding
def decode(payload: bytes, handle_of=None, generator_of=None, model_of=None):
    """The value in ``payload``; :class:`WireError` if anything is wrong with it.

    ``handle_of(id, type_name, is_callable)`` turns a handle node into an object (default: a
    :class:`Handle`); ``generator_of(state)`` turns a generator node into one (default: a new
    ``numpy.random.Generator`` with that state); ``model_of(name, state)`` a model node (default:
    refused -- the grader never accepts a model from the worker)."""
    try:
        return _decode(memoryview(payload), handle_of, generator_of, model_of)
    except WireError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, struct.error, RecursionError) as err:
        raise WireError(f"malformed message ({type(err).__name__})") from None


def _decode(view, handle_of, generator_of, model_of):
    if len(view) < 8:
        raise WireError("truncated message")
    (hlen,) = struct.unpack(">I", view[:4])
    if hlen > MAX_HEADER or 4 + hlen + 4 > len(view):
        raise WireError("malformed message header")
    tree = json.loads(bytes(view[4:4 + hlen]).decode("ascii"))
    pos = 4 + hlen
    (nblobs,) = struct.unpack(">I", view[pos:pos + 4])
    pos += 4
    if nblobs > MAX_NODES or pos + 8 * nblobs > len(view):
        raise WireError("malformed message: bad array table")
    sizes = struct.unpack(f">{nblobs}Q", view[pos:pos + 8 * nblobs]) if nblobs else ()
    pos += 8 * nblobs
    offsets = []
    for size in sizes:
        offsets.append((pos, pos + size))
        pos += size
    if pos != len(view):
        raise WireError("malformed message: its length does not match its contents")
    count = [0]

    def arr(n):
        if not isinstance(n, dict) or n.get("t") != "nd":
            raise WireError("malformed array node")
        dtype = n["dtype"]
        if dtype not in DTYPES and dtype != "|b1":
            raise WireError(f"arrays of dtype {dtype!r} may not cross")
        shape = n["shape"]
        if not isinstance(shape, list) or len(shape) > 32 or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise WireError("malformed array shape")
        b = n["b"]
        if not isinstance(b, int) or not 0 <= b < len(offsets):
            raise WireError("malformed array reference")
        start, stop = offsets[b]
        dt = np.dtype(dtype)
        if math.prod(shape) * dt.itemsize != stop - start:
            raise WireError("an array's bytes do not match its shape")
        return np.frombuffer(bytes(view[start:stop]), dtype=dt).reshape(shape).copy()

    def node(n, depth):
        count[0] += 1
        if depth > MAX_DEPTH or count[0] > MAX_NODES or not isinstance(n, dict):
            raise WireError("malformed or too deeply nested message")
        t = n.get("t")
        if t == "none":
            return None
        if t == "bool":
            if not isinstance(n["v"], bool):
                raise WireError("malformed bool")
            return n["v"]
        if t == "int":
            if not isinstance(n["v"], str) or len(n["v"]) > 4000:
                raise WireError("malformed int")
            return int(n["v"])
        if t == "float":
            if not isinstance(n["v"], str) or len(n["v"]) > 40:
                raise WireError("malformed float")
            return float(n["v"])
        if t == "str":
            if not isinstance(n["v"], str):
                raise WireError("malformed str")
            return n["v"]
        if t in ("list", "tuple"):
            if not isinstance(n["v"], list):
                raise WireError("malformed sequence")
            items = [node(x, depth + 1) for x in n["v"]]
            return items if t == "list" else tuple(items)
        if t == "dict":
            if not isinstance(n["v"], list):
                raise WireError("malformed dict")
            out = {}
            for pair in n["v"]:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("malformed dict item")
                key = node(pair[0], depth + 1)
                try:
                    hash(key)
                except TypeError:
                    raise WireError("a dict key that cannot be hashed") from None
                out[key] = node(pair[1], depth + 1)
            return out
        if t == "nd":
            return arr(n)
        if t == "np":
            a = arr(n["a"])
            if a.shape != ():
                raise WireError("malformed NumPy scalar")
            return a[()]
        if t == "torch":
            import torch

            return torch.from_numpy(arr(n["a"]))
        if t == "gen":
            state = n["state"]
            if not isinstance(state, dict) or state.get("bit_generator") not in _GEN_BITS:
                raise WireError("malformed random generator")
            if generator_of is not None:
                return generator_of(state)
            return _generator(state)
        if t == "handle":
            id_, name, call = n["id"], n["type"], n["call"]
            if not isinstance(id_, int) or not isinstance(name, str) or not isinstance(call, bool):
                raise WireError("malformed handle")
            return handle_of(id_, name, call) if handle_of is not None else Handle(id_, name, call)
        if t == "model":
            name = n["name"]
            if model_of is None or not isinstance(name, str):
                raise WireError("a model may not cross in this direction")
            state = node(n["state"], depth + 1)
            if type(state) is not dict:
                raise WireError("malformed model")
            return model_of(name, state)
        raise WireError(f"a node of unknown type {str(t)[:20]!r}")

    return node(tree, 0)


def _generator(state: dict) -> np.random.Generator:
    """A generator of the named bit generator with ``state`` (validated by NumPy's state setter)."""
    bit = getattr(np.random, state["bit_generator"])()
    bit.state = _arrays_back(state)
    return np.random.Generator(bit)


def _arrays_back(state):
    """MT19937 keeps its key as an array: lists of ints go back to arrays."""
    if isinstance(state, dict):
        return {k: _arrays_back(v) for k, v in state.items()}
    if isinstance(state, list):
        return np.asarray(state, dtype=np.uint64 if any(x > 2**32 for x in state) else np.uint32)
    return state


def set_generator_state(gen: np.random.Generator, state) -> None:
    """Give ``gen`` the state the other side left its copy in (``WireError`` if it is not valid)."""
    if not isinstance(state, dict) or state.get("bit_generator") != type(gen.bit_generator).__name__:
        raise WireError("the random generator came back in an invalid state")
    try:
        gen.bit_generator.state = _arrays_back(state)
    except (ValueError, TypeError, KeyError, OverflowError) as err:
        raise WireError(f"the random generator came back in an invalid state ({type(err).__name__})") from None


# ----------------------------------------------------------------------------- frames
def send(fd: int, payload: bytes) -> None:
    """Write one frame to the file descriptor ``fd`` (blocking)."""
    data = memoryview(struct.pack(">Q", len(payload)) + payload)
    while data:
        n = os.write(fd, data)
        data = data[n:]


def recv(fd: int, deadline: float | None = None, limit: int = MAX_FRAME) -> bytes:
    """Read one frame from ``fd``. ``deadline``: a ``time.monotonic()`` value; past it ``TimeoutError``.

    ``EOFError`` when the other side closed; :class:`WireError` for a frame larger than ``limit``.
    """
    def read_exactly(n):
        chunks, got = [], 0
        while got < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no answer in time")
                ready, _, _ = select.select([fd], [], [], left)
                if not ready:
                    raise TimeoutError("no answer in time")
            chunk = os.read(fd, min(n - got, 1 << 20))
            if not chunk:
                raise EOFError("the other side closed the connection")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    (size,) = struct.unpack(">Q", read_exactly(8))
    if size > limit:
        raise WireError(f"a message of {size} bytes is larger than the limit of {limit}")
    return read_exactly(size)
