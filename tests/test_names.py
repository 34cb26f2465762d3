"""One mapping of field names: the spec's, raft.tla's (ITF), and the implementation's mirror.

`impl/` imports nothing of the spec: it keeps its own message and entry records and its own
copy of the naming rule for the trace log.  These tests hold the two together field for
field, so neither can drift: same records, same field order, same raft.tla names.
"""
from __future__ import annotations

import pytest

from leaderfollower.checker.formats.itf import VARS, encode_message
from leaderfollower.impl import messages as impl_messages
from leaderfollower.impl.tracelog import encode_message as log_message
from leaderfollower.spec import state as spec_state
from leaderfollower.spec.names import MESSAGE_FIELDS, SERVER_VARIABLES, tla_name

SPEC_RECORDS = {name: cls for name, cls in spec_state.MESSAGE_TYPES.items()} | {"Entry": spec_state.Entry}


@pytest.mark.parametrize("name", sorted(SPEC_RECORDS))
def test_the_implementation_mirrors_every_spec_record_field_for_field(name: str) -> None:
    impl_cls = getattr(impl_messages, name)
    spec_fields = SPEC_RECORDS[name]._fields
    if name == "Entry":  # the core's payload is the spec's value (bytes or an int in a real run)
        assert len(impl_cls._fields) == len(spec_fields) and impl_cls._fields[0] == spec_fields[0] == "term"
    else:
        assert impl_cls._fields == spec_fields


def _sample(cls: type) -> tuple[object, ...]:
    values: list[object] = []
    for field in cls._fields:  # type: ignore[attr-defined]
        values.append(cls.__name__ if field == "mtype" else () if field == "mentries" else True if field in ("mvote_granted", "msuccess") else 1)
    return tuple(values)


@pytest.mark.parametrize("name", sorted(spec_state.MESSAGE_TYPES))
def test_itf_and_the_trace_log_write_one_set_of_message_field_names(name: str) -> None:
    spec_cls = spec_state.MESSAGE_TYPES[name]
    values = _sample(spec_cls)
    itf_keys = list(encode_message(spec_cls(*values)))
    log_keys = list(log_message(getattr(impl_messages, name)(*values)))
    assert itf_keys == log_keys == [MESSAGE_FIELDS[f] for f in spec_cls._fields]


def test_server_variables_are_raft_tla_names() -> None:
    assert [tla for _, tla in SERVER_VARIABLES] == VARS[: len(SERVER_VARIABLES)] == [
        "currentTerm", "state", "votedFor", "log", "commitIndex", "votesResponded", "votesGranted", "nextIndex", "matchIndex",
    ]
    assert tla_name("mlast_log_term") == "mlastLogTerm" and tla_name("mtype") == "mtype"
