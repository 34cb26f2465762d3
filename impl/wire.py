"""The wire format: length-prefixed, versioned frames for peers and clients (sans-I/O).

How this works: every frame is `u32 length | u8 version | u8 kind | body`, where
`length` counts the bytes after itself.  Peer messages are fixed binary layouts
(big-endian) carrying a spec message plus the read-round context; client requests
and replies are UTF-8 JSON objects.  `FrameDecoder` turns a byte stream into
frames and raises `FrameError` on anything malformed, oversized or unknown, so
the shell can log it and close that one connection.  docs/wire-format.md is the
reference; this module is the code of it.
"""
from __future__ import annotations

import json
import struct
from typing import Any, Iterator, NamedTuple

from .messages import (
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    Message,
    RequestVoteRequest,
    RequestVoteResponse,
    append_entries_request,
    append_entries_response,
    request_vote_request,
    request_vote_response,
    Value,
)
from .node import Envelope

VERSION = 1
"""The only wire version this code speaks."""
MAX_FRAME = 16 * 1024 * 1024
"""Frames longer than this (after the length field) are rejected on peer links."""
MAX_HELLO_FRAME = 1024
"""The largest frame a connection may send before it has said who it is."""
MAX_CLIENT_FRAME = 1024 * 1024 + 64 * 1024
"""The largest frame a client may send (a write of `kv.MAX_VALUE_BYTES`, with its JSON around it)."""

HELLO_PEER = 1
HELLO_CLIENT = 2
REQUEST_VOTE_REQUEST = 10
REQUEST_VOTE_RESPONSE = 11
APPEND_ENTRIES_REQUEST = 12
APPEND_ENTRIES_RESPONSE = 13
CLIENT_REQUEST = 20
CLIENT_REPLY = 21
KINDS = {
    HELLO_PEER: "HelloPeer",
    HELLO_CLIENT: "HelloClient",
    REQUEST_VOTE_REQUEST: "RequestVoteRequest",
    REQUEST_VOTE_RESPONSE: "RequestVoteResponse",
    APPEND_ENTRIES_REQUEST: "AppendEntriesRequest",
    APPEND_ENTRIES_RESPONSE: "AppendEntriesResponse",
    CLIENT_REQUEST: "ClientRequest",
    CLIENT_REPLY: "ClientReply",
}
"""Frame kinds by number."""

_LEN = struct.Struct(">I")
_HEAD = struct.Struct(">BB")
_HELLO_PEER = struct.Struct(">HH")
_RVQ = struct.Struct(">QQQQHH")  # ctx, term, last_log_term, last_log_index, source, dest
_RVP = struct.Struct(">QQBHH")  # ctx, term, granted, source, dest
_AEQ = struct.Struct(">QQQQQHHI")  # ctx, term, prev_index, prev_term, commit, source, dest, count
_AEP = struct.Struct(">QQBQHH")  # ctx, term, success, match_index, source, dest
_ENTRY = struct.Struct(">QBI")  # term, value kind (0 bytes, 1 int), body length
_INT = struct.Struct(">q")


class FrameError(Exception):
    """The remote side sent something this side cannot accept (h11's RemoteProtocolError)."""


class Frame(NamedTuple):
    """One decoded frame: its kind number and body bytes."""

    kind: int
    body: bytes


def encode_frame(kind: int, body: bytes) -> bytes:
    """A complete frame with length prefix, version and kind."""
    return _LEN.pack(len(body) + _HEAD.size) + _HEAD.pack(VERSION, kind) + body


class FrameDecoder:
    """Bytes in, frames out; raises FrameError on a bad length, version or kind.

    Linear in the bytes fed, however they are chunked: bytes are appended to one
    buffer, a frame is parsed only once the buffer holds all of it (the length
    prefix says how much that is), and the buffer is cut only when frames have
    been taken from it.  `max_frame` may be changed between calls (a connection
    allows larger frames once it has said who it is).
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self._need = 0  # bytes the buffer must hold before the frame at its start is complete (0: unknown)

    @property
    def buffered(self) -> int:
        """Bytes received and not yet part of a complete frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return every frame now complete."""
        return list(self.frames(data))

    def frames(self, data: bytes) -> Iterator[Frame]:
        """Add received bytes; yield every frame now complete, one at a time.

        Each frame's length is checked against `max_frame` as it is then, so a
        consumer may change the limit between frames (after a hello).  Consume the
        iterator fully unless it raises.
        """
        buf: bytes | bytearray
        if self._buf:
            self._buf += data
            if len(self._buf) < self._need:
                return  # the frame in progress is still incomplete: nothing to parse
            buf = self._buf
        else:
            buf = data  # nothing left over from the last call: parse `data` itself
        pos, size = 0, len(buf)
        self._need = 0
        try:
            while size - pos >= _LEN.size:
                (length,) = _LEN.unpack_from(buf, pos)
                check_length(length, self.max_frame)
                end = pos + _LEN.size + length
                if end > size:
                    self._need = end - pos
                    break
                frame = decode_payload(bytes(buf[pos + _LEN.size : end]))
                pos = end
                yield frame
        finally:
            if pos or buf is data:
                # Keep only the unfinished tail, in a buffer of its own size (a large
                # frame's buffer is released once the frame is taken).
                self._buf = bytearray(buf[pos:])


def check_length(length: int, max_frame: int = MAX_FRAME) -> None:
    """Raise FrameError unless `length` (the u32 prefix) is acceptable."""
    if length < _HEAD.size:
        raise FrameError(f"frame length {length} is shorter than the {_HEAD.size}-byte version and kind")
    if length > max_frame:
        raise FrameError(f"frame length {length} exceeds the limit of {max_frame} bytes")


def decode_payload(payload: bytes) -> Frame:
    """The frame after its length prefix; raises FrameError on an unknown version or kind."""
    version, kind = _HEAD.unpack_from(payload, 0)
    if version != VERSION:
        raise FrameError(f"wire version {version}, expected {VERSION}")
    if kind not in KINDS:
        raise FrameError(f"unknown frame kind {kind}")
    return Frame(kind, payload[_HEAD.size :])


# ------------------------------------------------------------------- peers


def encode_hello_peer(node_id: int, servers: int) -> bytes:
    """The first frame on a connection from a peer: who it is and the cluster size it expects."""
    return encode_frame(HELLO_PEER, _HELLO_PEER.pack(node_id, servers))


def decode_hello_peer(body: bytes) -> tuple[int, int]:
    """(node id, servers) from a HelloPeer body."""
    if len(body) != _HELLO_PEER.size:
        raise FrameError(f"HelloPeer body of {len(body)} bytes, expected {_HELLO_PEER.size}")
    node_id, servers = _HELLO_PEER.unpack(body)
    return node_id, servers


def _encode_value(value: Value) -> tuple[int, bytes]:
    if isinstance(value, int):
        return 1, _INT.pack(value)
    return 0, value


def encode_envelope(env: Envelope) -> bytes:
    """A peer message frame."""
    m, ctx = env
    if m.mtype == "RequestVoteRequest":
        return encode_frame(REQUEST_VOTE_REQUEST, _RVQ.pack(ctx, m.mterm, m.mlast_log_term, m.mlast_log_index, m.msource, m.mdest))  # type: ignore[union-attr]
    if m.mtype == "RequestVoteResponse":
        return encode_frame(REQUEST_VOTE_RESPONSE, _RVP.pack(ctx, m.mterm, m.mvote_granted, m.msource, m.mdest))  # type: ignore[union-attr]
    if m.mtype == "AppendEntriesResponse":
        return encode_frame(APPEND_ENTRIES_RESPONSE, _AEP.pack(ctx, m.mterm, m.msuccess, m.mmatch_index, m.msource, m.mdest))  # type: ignore[union-attr]
    assert isinstance(m, AppendEntriesRequest)
    parts = [_AEQ.pack(ctx, m.mterm, m.mprev_log_index, m.mprev_log_term, m.mcommit_index, m.msource, m.mdest, len(m.mentries))]
    for term, value in m.mentries:
        kind, body = _encode_value(value)
        parts.append(_ENTRY.pack(term, kind, len(body)))
        parts.append(body)
    return encode_frame(APPEND_ENTRIES_REQUEST, b"".join(parts))


def _exact(body: bytes, s: struct.Struct, kind: int) -> tuple[Any, ...]:
    if len(body) != s.size:
        raise FrameError(f"{KINDS[kind]} body of {len(body)} bytes, expected {s.size}")
    return s.unpack(body)


def _bool(value: int, what: str) -> bool:
    if value not in (0, 1):
        raise FrameError(f"{what} is {value}, expected 0 or 1")
    return bool(value)


def decode_envelope(frame: Frame) -> Envelope:
    """The message in a peer message frame; raises FrameError if the body is malformed."""
    kind, body = frame
    m: Message
    if kind == REQUEST_VOTE_REQUEST:
        ctx, term, llt, lli, src, dst = _exact(body, _RVQ, kind)
        m = request_vote_request(term, llt, lli, src, dst)
    elif kind == REQUEST_VOTE_RESPONSE:
        ctx, term, granted, src, dst = _exact(body, _RVP, kind)
        m = request_vote_response(term, _bool(granted, "mvote_granted"), src, dst)
    elif kind == APPEND_ENTRIES_RESPONSE:
        ctx, term, success, match, src, dst = _exact(body, _AEP, kind)
        m = append_entries_response(term, _bool(success, "msuccess"), match, src, dst)
    elif kind == APPEND_ENTRIES_REQUEST:
        if len(body) < _AEQ.size:
            raise FrameError(f"AppendEntriesRequest body of {len(body)} bytes, shorter than its {_AEQ.size}-byte header")
        ctx, term, prev_index, prev_term, commit, src, dst, count = _AEQ.unpack_from(body, 0)
        pos = _AEQ.size
        entries = []
        for k in range(count):
            if len(body) - pos < _ENTRY.size:
                raise FrameError(f"AppendEntriesRequest entry {k + 1} of {count}: header cut short")
            eterm, ekind, elen = _ENTRY.unpack_from(body, pos)
            pos += _ENTRY.size
            if len(body) - pos < elen:
                raise FrameError(f"AppendEntriesRequest entry {k + 1} of {count}: body cut short")
            raw = body[pos : pos + elen]
            pos += elen
            if ekind == 0:
                entries.append(Entry(eterm, raw))
            elif ekind == 1 and elen == _INT.size:
                entries.append(Entry(eterm, _INT.unpack(raw)[0]))
            else:
                raise FrameError(f"AppendEntriesRequest entry {k + 1}: unknown value kind {ekind}")
        if pos != len(body):
            raise FrameError(f"AppendEntriesRequest: {len(body) - pos} bytes after the last entry")
        m = append_entries_request(term, prev_index, prev_term, tuple(entries), commit, src, dst)
    else:
        raise FrameError(f"a {KINDS.get(kind, kind)} frame where a peer message was expected")
    return Envelope(m, ctx)


# ----------------------------------------------------------------- clients


def encode_json(kind: int, obj: dict[str, Any]) -> bytes:
    """A client request or reply frame."""
    return encode_frame(kind, json.dumps(obj, separators=(",", ":")).encode())


def decode_json(frame: Frame, expected: int) -> dict[str, Any]:
    """The JSON object in a client frame of kind `expected`."""
    if frame.kind != expected:
        raise FrameError(f"a {KINDS[frame.kind]} frame where a {KINDS[expected]} was expected")
    try:
        obj = json.loads(frame.body)
    except ValueError as e:
        raise FrameError(f"{KINDS[expected]}: not JSON ({e})") from e
    except RecursionError:
        raise FrameError(f"{KINDS[expected]}: JSON nested too deeply") from None
    if not isinstance(obj, dict):
        raise FrameError(f"{KINDS[expected]}: expected a JSON object, got {type(obj).__name__}")
    return obj


__all__ = [
    "Frame", "FrameDecoder", "FrameError", "MAX_FRAME", "MAX_HELLO_FRAME", "MAX_CLIENT_FRAME", "VERSION", "encode_frame", "encode_envelope",
    "decode_envelope", "encode_hello_peer", "decode_hello_peer", "encode_json", "decode_json",
    "RequestVoteRequest", "RequestVoteResponse", "AppendEntriesResponse",
]
