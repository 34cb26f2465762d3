"""The table of actions: raft.tla's `Next`, written once, for every engine to read.

How this works: every action of the protocol is one row of `ACTIONS`, in the order
`RaftSpec.successors` enumerates them: its name (one member of `ActionName`, the
name raft.tla, the implementation's entry point and the trace formats share), the
kinds of its arguments, the `RaftSpec` method that computes it, and who acts:

- a *server* action is taken by the server of its first argument (`Timeout(i)`,
  `RequestVote(i, j)`, `ClientRequest(i, v)`, ...); its arguments run over the
  server ids and the values, in increasing order;
- a *handler* is raft.tla's `Receive(m)` for the message types it takes, run by the
  message's recipient (`UpdateTerm`, `HandleRequestVoteRequest`, ...); every
  handler of a message's type is tried, as `Receive` is their disjunction;
- a *network* action changes only the message bag (`DuplicateMessage`,
  `DropMessage`).

The spec's `successors` and `apply`, the explorer's memoised local steps, the Z3
encodings' action instances, conformance's map to the implementation's methods,
trace validation's argument checks and the ITF reader's action names are all
derived from this table, so adding an action means adding a row here and a method
to `RaftSpec`.

`Action` is a transition label: a name and its arguments (`Timeout(0)`,
`HandleAppendEntriesRequest(AppendEntriesRequest 0->1 ...)`).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import NamedTuple, Sequence, Union

from .state import MESSAGE_TYPES, Log, Message


class ActionName(StrEnum):
    """The name of every action, as raft.tla spells it; each member equals its own name as a string."""

    Timeout = "Timeout"
    Restart = "Restart"
    RequestVote = "RequestVote"
    BecomeLeader = "BecomeLeader"
    ClientRequest = "ClientRequest"
    AdvanceCommitIndex = "AdvanceCommitIndex"
    AppendEntries = "AppendEntries"
    UpdateTerm = "UpdateTerm"
    HandleRequestVoteRequest = "HandleRequestVoteRequest"
    HandleRequestVoteResponse = "HandleRequestVoteResponse"
    HandleAppendEntriesRequest = "HandleAppendEntriesRequest"
    HandleAppendEntriesResponse = "HandleAppendEntriesResponse"
    DropStaleResponse = "DropStaleResponse"
    DuplicateMessage = "DuplicateMessage"
    DropMessage = "DropMessage"


class ArgKind(Enum):
    """What an action argument is: a server id, a client value, or a message in the bag."""

    SERVER = "server"
    VALUE = "value"
    MESSAGE = "message"


class Actor(Enum):
    """Who takes an action, and so which server it may change (see the module comment)."""

    SERVER = "server"
    """The server named by the first argument."""
    RECIPIENT = "recipient"
    """The recipient (`mdest`) of the message argument: a message handler."""
    NETWORK = "network"
    """Nobody: only the bag changes."""


@dataclass(frozen=True)
class ActionDef:
    """One row of the table: an action's name, arguments, method and actor."""

    name: ActionName
    args: tuple[ArgKind, ...]
    method: str
    """The `RaftSpec` method computing the action (a variant overrides it)."""
    actor: Actor
    summary: str
    """Who does what, in one line (raft.tla's comment on the action)."""
    takes: frozenset[str] = frozenset()
    """For a handler, the message types (`mtype`) it takes."""

    @property
    def arity(self) -> int:
        """How many arguments the action takes."""
        return len(self.args)


_ALL = frozenset(MESSAGE_TYPES)
_RESPONSES = frozenset({"RequestVoteResponse", "AppendEntriesResponse"})
S, V, M = ArgKind.SERVER, ArgKind.VALUE, ArgKind.MESSAGE

ACTIONS: tuple[ActionDef, ...] = (
    ActionDef(ActionName.Timeout, (S,), "timeout", Actor.SERVER, "server i times out and starts a new election"),
    ActionDef(ActionName.Restart, (S,), "restart", Actor.SERVER, "server i restarts from stable storage"),
    ActionDef(ActionName.RequestVote, (S, S), "request_vote", Actor.SERVER, "candidate i sends j a RequestVote request"),
    ActionDef(ActionName.BecomeLeader, (S,), "become_leader", Actor.SERVER, "candidate i, granted votes by a quorum, becomes leader"),
    ActionDef(ActionName.ClientRequest, (S, V), "client_request", Actor.SERVER, "leader i receives a client request to add value v"),
    ActionDef(ActionName.AdvanceCommitIndex, (S,), "advance_commit_index", Actor.SERVER, "leader i advances its commitIndex"),
    ActionDef(ActionName.AppendEntries, (S, S), "append_entries", Actor.SERVER, "leader i sends j an AppendEntries request"),
    ActionDef(ActionName.UpdateTerm, (M,), "update_term", Actor.RECIPIENT, "server i sees a newer term and steps down to it", _ALL),
    ActionDef(
        ActionName.HandleRequestVoteRequest, (M,), "handle_request_vote_request", Actor.RECIPIENT,
        "server i answers candidate j's vote request", frozenset({"RequestVoteRequest"}),
    ),
    ActionDef(
        ActionName.HandleRequestVoteResponse, (M,), "handle_request_vote_response", Actor.RECIPIENT,
        "server i tallies j's answer to its vote request", frozenset({"RequestVoteResponse"}),
    ),
    ActionDef(
        ActionName.HandleAppendEntriesRequest, (M,), "handle_append_entries_request", Actor.RECIPIENT,
        "server i handles leader j's AppendEntries request", frozenset({"AppendEntriesRequest"}),
    ),
    ActionDef(
        ActionName.HandleAppendEntriesResponse, (M,), "handle_append_entries_response", Actor.RECIPIENT,
        "server i records j's answer to its AppendEntries request", frozenset({"AppendEntriesResponse"}),
    ),
    ActionDef(ActionName.DropStaleResponse, (M,), "drop_stale_response", Actor.RECIPIENT, "server i discards a response from an older term", _RESPONSES),
    ActionDef(ActionName.DuplicateMessage, (M,), "duplicate_message", Actor.NETWORK, "the network duplicates a message"),
    ActionDef(ActionName.DropMessage, (M,), "drop_message", Actor.NETWORK, "the network loses a message"),
)
"""Every action, in the order `RaftSpec.successors` enumerates them (raft.tla's `Next`)."""

ACTION_BY_NAME: dict[str, ActionDef] = {row.name: row for row in ACTIONS}
"""Each row by its name (an `ActionName`, or the same name as a plain string)."""

ACTION_NAMES: tuple[ActionName, ...] = tuple(row.name for row in ACTIONS)
"""Every action's name, in table order."""

SERVER_ACTIONS: tuple[ActionDef, ...] = tuple(row for row in ACTIONS if row.actor is Actor.SERVER)
"""The rows of actions taken by a server named in their first argument."""

HANDLERS: tuple[ActionDef, ...] = tuple(row for row in ACTIONS if row.actor is Actor.RECIPIENT)
"""The rows of message handlers (the disjuncts of raft.tla's `Receive`)."""

NETWORK_ACTIONS: tuple[ActionDef, ...] = tuple(row for row in ACTIONS if row.actor is Actor.NETWORK)
"""The rows of the network's own actions."""


def handlers_of(mtype: str) -> tuple[ActionDef, ...]:
    """The handlers that take messages of type `mtype`, in table order."""
    return tuple(row for row in HANDLERS if mtype in row.takes)


def argument_tuples(row: ActionDef, servers: Sequence[int], values: Sequence[int]) -> list[tuple[int, ...]]:
    """Every argument tuple of a server action over these server ids and values, in `successors` order."""
    domains = [servers if kind is ArgKind.SERVER else values for kind in row.args]
    return list(itertools.product(*domains))


def action_def(name: str) -> ActionDef:
    """The row of the action called `name`; KeyError naming the known actions otherwise."""
    row = ACTION_BY_NAME.get(name)
    if row is None:
        raise KeyError(f"unknown action {name!r}; known: {', '.join(ACTION_NAMES)}")
    return row


Arg = Union[int, Message]
"""An action argument: a server id or a value (an int), or a message."""


class Action(NamedTuple):
    """A transition label: the action's name and its arguments.

    Server and value arguments are integers; a message handler's single argument is
    the message it received (its recipient is `mdest`, its sender `msource`).
    """

    name: ActionName
    args: tuple[Arg, ...]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(format_arg(a) for a in self.args)})"


def format_arg(arg: Arg) -> str:
    """A short readable form of an action argument."""
    if isinstance(arg, tuple):
        return format_message(arg)
    return str(arg)


def format_message(m: Message) -> str:
    """A one-line readable form of a message, e.g. `AppendEntriesRequest 0->1 term=2 ...`."""
    fields = []
    for name, value in zip(m._fields, m):
        if name in ("mtype", "msource", "mdest"):
            continue
        if name == "mentries":
            entries: Log = value  # type: ignore[assignment]
            value = "[" + ", ".join(f"t{e.term}:v{e.value}" for e in entries) + "]"
        fields.append(f"{name[1:]}={value}")
    return f"{m.mtype} {m.msource}->{m.mdest} " + " ".join(fields)
