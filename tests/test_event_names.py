"""An event's class says what its wire name says: the JSONL stream and the ledger use the wire
names (a public contract), the code the classes, and a reader of either finds the other."""

from __future__ import annotations

import dataclasses
import re

from autocodebase import events


def test_every_event_class_is_named_after_its_wire_name() -> None:
    kinds = [
        value
        for value in vars(events).values()
        if isinstance(value, type) and issubclass(value, events.Event) and value is not events.Event
    ]
    assert len(kinds) >= 20
    for kind in kinds:
        wire = next(f.default for f in dataclasses.fields(kind) if f.name == "type")
        assert re.sub(r"(?<!^)(?=[A-Z])", "_", kind.__name__).lower() == wire, kind
    wires = [next(f.default for f in dataclasses.fields(k) if f.name == "type") for k in kinds]
    assert len(set(wires)) == len(wires), "two classes share a wire name"
