"""Property-based: any subject, queue, header or payload is a typed error or an exact
round trip through a real server, never a panic or a hang."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import natsrs
from helpers import assert_works, w
from natsrs import errors
from natsrs._server import NatsServer

MAX_PAYLOAD = 64 * 1024
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Harness:
    """One server, one client and one loop for a whole module of examples."""

    def __init__(self, workdir: Path) -> None:
        self.server = NatsServer(config=f"max_payload: {MAX_PAYLOAD}\n", workdir=workdir)
        self.server.start()
        self.loop = asyncio.new_event_loop()
        self.client: natsrs.Client = self.run(lambda: natsrs.connect(self.server.url))
        self.counter = 0

    def run(self, make: Callable[[], Awaitable[Any]]) -> Any:
        """Runs ``make()`` inside the loop: natsrs calls that wait need a running loop."""

        async def wrapped() -> Any:
            return await w(make())

        return self.loop.run_until_complete(wrapped())

    def unique(self) -> str:
        self.counter += 1
        return f"prop.{self.counter}"

    def close(self) -> None:
        try:
            self.run(lambda: self.client.close())
        finally:
            self.loop.close()
            self.server.stop()

    def assert_alive(self) -> None:
        self.run(lambda: assert_works(self.client))


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    h = Harness(tmp_path_factory.mktemp("props"))
    yield h
    h.close()


subject_tokens = st.text(
    alphabet=st.sampled_from(list("abcXYZ019_-*>. \t\r\né")), min_size=0, max_size=12
)


@SETTINGS
@given(token=subject_tokens)
def test_any_subject_is_a_typed_error_or_delivered_exactly(harness: Harness, token: str) -> None:
    subject = f"{harness.unique()}.{token}" if token and token[0] not in ". " else token
    literal = all(t not in ("*", ">") for t in subject.split("."))
    try:
        sub = harness.run(lambda: harness.client.subscribe(subject))
    except errors.BadSubjectError:
        with pytest.raises(errors.BadSubjectError):
            harness.run(lambda: harness.client.publish(subject, b"x"))
        harness.assert_alive()
        return
    harness.run(lambda: harness.client.flush())
    if literal:
        harness.run(lambda: harness.client.publish(subject, b"x"))
        msg = harness.run(lambda: sub.next())
        assert msg is not None and msg.subject == subject and msg.payload == b"x"
    harness.run(lambda: sub.unsubscribe())
    harness.assert_alive()


@SETTINGS
@given(queue=st.text(max_size=10))
def test_any_queue_name_is_a_typed_error_or_works(harness: Harness, queue: str) -> None:
    subject = harness.unique()
    try:
        sub = harness.run(lambda: harness.client.queue_subscribe(subject, queue))
    except errors.BadQueueError:
        harness.assert_alive()
        return
    harness.run(lambda: harness.client.flush())
    harness.run(lambda: harness.client.publish(subject, b"q"))
    msg = harness.run(lambda: sub.next())
    assert msg is not None and msg.payload == b"q"
    harness.run(lambda: sub.unsubscribe())


@SETTINGS
@given(
    headers=st.dictionaries(
        keys=st.text(min_size=0, max_size=8),
        values=st.lists(st.text(max_size=12), min_size=1, max_size=3),
        max_size=3,
    )
)
def test_any_headers_are_a_typed_error_or_round_trip_exactly(
    harness: Harness, headers: dict[str, list[str]]
) -> None:
    subject = harness.unique()
    sub = harness.run(lambda: harness.client.subscribe(subject))
    harness.run(lambda: harness.client.flush())
    try:
        harness.run(lambda: harness.client.publish(subject, b"h", headers=headers))
    except errors.BadHeaderError:
        harness.run(lambda: sub.unsubscribe())
        harness.assert_alive()
        return
    msg = harness.run(lambda: sub.next())
    assert msg is not None
    received = msg.headers.to_dict() if msg.headers is not None else {}
    assert received == headers
    harness.run(lambda: sub.unsubscribe())


@SETTINGS
@given(payload=st.binary(max_size=MAX_PAYLOAD + 1024))
def test_any_payload_round_trips_exactly_or_exceeds_max_payload(
    harness: Harness, payload: bytes
) -> None:
    subject = harness.unique()
    sub = harness.run(lambda: harness.client.subscribe(subject))
    harness.run(lambda: harness.client.flush())
    if len(payload) > MAX_PAYLOAD:
        with pytest.raises(errors.MaxPayloadError):
            harness.run(lambda: harness.client.publish(subject, payload))
        harness.run(lambda: sub.unsubscribe())
        harness.assert_alive()
        return
    harness.run(lambda: harness.client.publish(subject, bytearray(payload)))
    msg = harness.run(lambda: sub.next())
    assert msg is not None and msg.payload == payload
    harness.run(lambda: sub.unsubscribe())
