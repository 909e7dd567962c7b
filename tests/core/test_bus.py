"""The in-process event bus: subscribe, publish, unsubscribe, isolated failures."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import pytest

from urbis.core.bus import EventBus


@dataclass(frozen=True)
class ThingHappened:
    name: str


@dataclass(frozen=True)
class OtherThingHappened:
    name: str


@dataclass(frozen=True)
class SpecialThingHappened(ThingHappened):
    pass


def test_publish_reaches_every_subscriber_in_order() -> None:
    bus = EventBus()
    seen: list[tuple[str, Any]] = []
    bus.subscribe(ThingHappened, lambda event: seen.append(("first", event)))
    bus.subscribe(ThingHappened, lambda event: seen.append(("second", event)))
    event = ThingHappened("a")
    bus.publish(event)
    assert seen == [("first", event), ("second", event)]
    assert seen[0][1] is event


def test_publish_without_subscribers_is_a_no_op() -> None:
    EventBus().publish(ThingHappened("nobody listens"))


def test_handlers_get_only_their_event_type() -> None:
    bus = EventBus()
    things: list[Any] = []
    others: list[Any] = []
    bus.subscribe(ThingHappened, things.append)
    bus.subscribe(OtherThingHappened, others.append)
    bus.publish(ThingHappened("a"))
    bus.publish(OtherThingHappened("b"))
    assert things == [ThingHappened("a")]
    assert others == [OtherThingHappened("b")]


def test_dispatch_is_by_exact_class() -> None:
    # Keyed by event class: a subclass is a different event.
    bus = EventBus()
    seen: list[Any] = []
    bus.subscribe(ThingHappened, seen.append)
    bus.publish(SpecialThingHappened("sub"))
    assert seen == []


def test_unsubscribe_stops_delivery() -> None:
    bus = EventBus()
    kept: list[Any] = []
    dropped: list[Any] = []
    bus.subscribe(ThingHappened, kept.append)
    unsubscribe = bus.subscribe(ThingHappened, dropped.append)
    bus.publish(ThingHappened("1"))
    unsubscribe()
    bus.publish(ThingHappened("2"))
    assert kept == [ThingHappened("1"), ThingHappened("2")]
    assert dropped == [ThingHappened("1")]


def test_unsubscribe_twice_is_harmless() -> None:
    bus = EventBus()
    seen: list[Any] = []
    unsubscribe = bus.subscribe(ThingHappened, seen.append)
    unsubscribe()
    unsubscribe()
    bus.publish(ThingHappened("x"))
    assert seen == []
    assert not bus.has_subscribers(ThingHappened)


def test_a_failing_handler_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    seen: list[str] = []

    def broken(event: ThingHappened) -> None:
        raise RuntimeError("consumer bug")

    bus.subscribe(ThingHappened, lambda event: seen.append("before"))
    bus.subscribe(ThingHappened, broken)
    bus.subscribe(ThingHappened, lambda event: seen.append("after"))
    with caplog.at_level(logging.ERROR, logger="urbis.core.bus"):
        bus.publish(ThingHappened("x"))  # must not raise
    assert seen == ["before", "after"]
    assert any("ThingHappened" in record.getMessage() and record.exc_info for record in caplog.records)


def test_has_subscribers() -> None:
    bus = EventBus()
    assert not bus.has_subscribers(ThingHappened)
    first = bus.subscribe(ThingHappened, lambda event: None)
    second = bus.subscribe(ThingHappened, lambda event: None)
    assert bus.has_subscribers(ThingHappened)
    assert not bus.has_subscribers(OtherThingHappened)
    first()
    assert bus.has_subscribers(ThingHappened)
    second()
    assert not bus.has_subscribers(ThingHappened)


def test_handler_may_unsubscribe_itself_while_handling() -> None:
    bus = EventBus()
    seen: list[str] = []
    unsubscribe: list[Any] = []

    def once(event: ThingHappened) -> None:
        seen.append(event.name)
        unsubscribe[0]()

    unsubscribe.append(bus.subscribe(ThingHappened, once))
    bus.subscribe(ThingHappened, lambda event: seen.append("other " + event.name))
    bus.publish(ThingHappened("1"))
    bus.publish(ThingHappened("2"))
    assert seen == ["1", "other 1", "other 2"]


def test_handler_may_publish_another_event() -> None:
    bus = EventBus()
    seen: list[Any] = []
    bus.subscribe(ThingHappened, lambda event: bus.publish(OtherThingHappened(event.name)))
    bus.subscribe(OtherThingHappened, seen.append)
    bus.publish(ThingHappened("chain"))
    assert seen == [OtherThingHappened("chain")]


def test_concurrent_publish_and_subscribe() -> None:
    bus = EventBus()
    count = 0
    lock = threading.Lock()

    def handler(event: ThingHappened) -> None:
        nonlocal count
        with lock:
            count += 1

    bus.subscribe(ThingHappened, handler)

    def publisher() -> None:
        for n in range(200):
            bus.publish(ThingHappened(str(n)))

    def churner() -> None:
        for _ in range(200):
            bus.subscribe(OtherThingHappened, lambda event: None)()

    threads = [threading.Thread(target=publisher) for _ in range(4)] + [threading.Thread(target=churner)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count == 4 * 200
