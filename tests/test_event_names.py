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


def test_a_slow_phase_says_what_it_does_and_a_quick_one_stays_silent() -> None:
    import threading
    import time

    seen: list[events.Event] = []
    announced = threading.Event()

    def sink(event: events.Event) -> None:
        seen.append(event)
        announced.set()

    with events.announce_if_slow(sink, "tests", "testing the change", after_s=0.05):
        assert announced.wait(30), "a slow phase is announced while it runs"
    assert [(e.type, getattr(e, "message", "")) for e in seen] == [
        ("progress", "testing the change")
    ]
    seen.clear()
    with events.announce_if_slow(seen.append, "tests", "quick", after_s=5):
        pass
    time.sleep(0.1)
    assert seen == []
    # Never after the block ended, even when the timer fires just as it ends.
    for _ in range(20):
        seen.clear()
        with events.announce_if_slow(seen.append, "x", "y", after_s=0.001):
            time.sleep(0.001)
        at_end = len(seen)
        time.sleep(0.01)
        assert len(seen) == at_end
    with events.announce_if_slow(seen.append, "map", "at once", after_s=0):
        assert getattr(seen[-1], "message", "") == "at once"
