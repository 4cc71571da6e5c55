"""NATS subject names of the cluster bus, and the reversible encoding of station ids in them.

A station id is whatever the charger put in its URL: it may hold '.', '*', '>', spaces or any
other character, and '.' splits subjects while '*' and '>' are wildcards. So an id travels as
one token in which letters, digits, '_' and '-' stand for themselves and every other byte of its
UTF-8 form is written `=XX` (upper-case hex). The same token is a valid JetStream KV key. Ids
made of the common characters stay readable in `nats sub` output: `CP-001` is `CP-001`,
`site.7/a b` is `site=2E7=2Fa=20b`.

    vb.station.<token>.call    request/reply: a command for the node holding the socket
    vb.event.<topic>           every domain event, published by the node that caused it
    vb.node.alive / .gone      node heartbeats, for the cluster-wide view of who holds what
    vb.node.<instance>.probe   answered by one node process to itself (see NatsBus._confirm)

`vb` is the namespace; clusters (or test runs) sharing one NATS server use different ones.
"""

from __future__ import annotations

import re

NAMESPACE = re.compile(r"[A-Za-z0-9_-]+")
_PLAIN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_TOKEN = re.compile(r"(?:[A-Za-z0-9_-]|=[0-9A-F]{2})+")


def station_token(station_id: str) -> str:
    """The subject token for `station_id`; raises ValueError for an empty id."""
    if not station_id:
        raise ValueError("a station id must not be empty")
    return "".join(chr(b) if b in _PLAIN else f"={b:02X}" for b in station_id.encode("utf-8"))


def station_id_from_token(token: str) -> str:
    """The station id a `station_token` came from; raises ValueError for anything else."""
    if not _TOKEN.fullmatch(token):
        raise ValueError(f"{token!r} is not a station token")
    out = bytearray()
    i = 0
    while i < len(token):
        if token[i] == "=":
            out.append(int(token[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(ord(token[i]))
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{token!r} does not encode UTF-8 text") from exc


class Subjects:
    """The subjects of one namespace."""

    def __init__(self, namespace: str) -> None:
        if not NAMESPACE.fullmatch(namespace):
            raise ValueError(f"namespace {namespace!r} must be letters, digits, '_' or '-'")
        self.namespace = namespace
        self.events = f"{namespace}.event.>"
        self.event_prefix = f"{namespace}.event."
        self.alive = f"{namespace}.node.alive"
        self.gone = f"{namespace}.node.gone"
        self.directory_bucket = f"{namespace}_stations"

    def call(self, station_id: str) -> str:
        """Where commands for `station_id` are requested."""
        return f"{self.namespace}.station.{station_token(station_id)}.call"

    def probe(self, instance: str) -> str:
        """A subject only one node process answers, to confirm its earlier subscriptions."""
        return f"{self.namespace}.node.{instance}.probe"

    def event(self, topic: str) -> str:
        """Where events of `topic` are published."""
        return f"{self.event_prefix}{topic}"
