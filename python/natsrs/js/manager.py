"""``JetStreamManager``: nats-py's JetStream management API (streams, consumers, account).

Every call is one request to the ``$JS.API`` subjects (or the prefix given) and reads
the JSON answer into the data classes of ``natsrs.js.api``; an error answer raises
``natsrs.js.errors.APIError.from_error``'s class. It works over either client natsrs
gives (``natsrs.connect()``'s ``Client`` or ``natsrs.NATS``), using only ``request``.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Awaitable
from typing import Any, Protocol

from natsrs._headers import Headers
from natsrs.errors import NoRespondersError
from natsrs.js import api
from natsrs.js.errors import (
    APIError,
    ConsumerInvalidResetError,
    NotFoundError,
    ServiceUnavailableError,
)

__all__ = ["JetStreamManager"]


class _Reply(Protocol):
    """What is read of a reply message (natsrs.Message and nats-py's Msg both have it)."""

    @property
    def subject(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def headers(self) -> dict[str, str] | None: ...


class _Requester(Protocol):
    """A client: ``natsrs.Client`` or ``natsrs.NATS``."""

    def request(
        self, subject: str, payload: bytes = ..., timeout: float | None = ...
    ) -> Awaitable[_Reply]: ...


# The characters a stream or consumer name may not contain (the server makes directory
# names of them, and a subject token of each). The same set as nats-py and nats.go.
_INVALID_NAME_CHARS = frozenset(">*. /\\\t\r\n")

# Where a stored message's subject, sequence and time are in a direct-get reply.
_NATS_STREAM = "Nats-Stream"
_NATS_SUBJECT = "Nats-Subject"
_NATS_SEQUENCE = "Nats-Sequence"
_NATS_TIME_STAMP = "Nats-Time-Stamp"

# The JetStream error code of a reset that the consumer's deliver policy forbids.
_CONSUMER_INVALID_RESET = 10204


def _validate_name(kind: str, name: str | None) -> None:
    # nats-py raises a plain ValueError, with these messages, before sending anything.
    if not name:
        raise ValueError(f"nats: {kind} name is required")
    if any(c in _INVALID_NAME_CHARS for c in name):
        raise ValueError(f"nats: invalid {kind} name: {name!r}")


def _validate_stream_name(name: str | None) -> None:
    _validate_name("stream", name)


def _validate_consumer_name(name: str | None) -> None:
    _validate_name("consumer", name)


def _parse_header_block(block: bytes) -> Headers | None:
    """Headers from an encoded ``NATS/1.0`` block (a stored message's ``hdrs``).

    ``None`` when the block has no header, as nats-py. A repeated name keeps its first
    value as the dict value and all of them under ``get_all``, as a received message's
    ``headers`` does.
    """
    lines = block.decode("utf-8", "replace").split("\r\n")
    entries: dict[str, list[str]] = {}
    # The first line is the version (and a status, which a stored message has not).
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            continue
        entries.setdefault(name.strip(), []).append(value.strip())
    if not entries:
        return None
    return Headers._from_entries(entries.items())


class JetStreamManager:
    """JetStream's management API over a connection (nats-py's ``JetStreamManager``).

    ``prefix`` is the API's subject prefix (``$JS.API``; another for a domain or an
    imported account), ``timeout`` the seconds each request waits for its answer.

    Names of streams and consumers are checked before anything is sent: an empty name,
    or one containing ``.``, ``*``, ``>``, a slash, a space, a tab, CR or LF, raises
    ``ValueError``, as in nats-py.
    """

    def __init__(self, conn: Any, prefix: str = api.DEFAULT_PREFIX, timeout: float = 5.0) -> None:
        self._nc: _Requester = conn
        self._prefix = prefix
        self._timeout = timeout

    # -- account -----------------------------------------------------------------------------

    async def account_info(self) -> api.AccountInfo:
        """The account's JetStream usage and limits.

        Raises:
            natsrs.js.errors.ServiceUnavailableError: JetStream is not enabled.
        """
        resp = await self._api_request(f"{self._prefix}.INFO", b"", timeout=self._timeout)
        return api.AccountInfo.from_response(resp)

    # -- streams -----------------------------------------------------------------------------

    async def find_stream_name_by_subject(self, subject: str) -> str:
        """The name of the stream that stores ``subject``.

        Raises:
            natsrs.js.errors.NotFoundError: no stream does.
        """
        resp = await self._api_request(
            f"{self._prefix}.STREAM.NAMES",
            json.dumps({"subject": subject}).encode(),
            timeout=self._timeout,
        )
        streams = resp.get("streams")
        if not streams:
            raise NotFoundError()
        name: str = streams[0]
        return name

    async def stream_names(self, subject: str | None = None) -> list[str]:
        """The names of every stream (of those storing ``subject`` when given), across
        all pages of the server's list. A natsrs addition (nats.go's ``StreamNames``)."""
        names: list[str] = []
        while True:
            req: dict[str, Any] = {"offset": len(names)}
            if subject:
                req["subject"] = subject
            resp = await self._api_request(
                f"{self._prefix}.STREAM.NAMES", json.dumps(req).encode(), timeout=self._timeout
            )
            page = resp.get("streams") or []
            names.extend(page)
            if not page or len(names) >= resp.get("total", 0):
                return names

    async def stream_info(self, name: str, subjects_filter: str | None = None) -> api.StreamInfo:
        """A stream's configuration and state; with ``subjects_filter`` its
        ``state.subjects`` counts the messages of each matching subject.

        Raises:
            natsrs.js.errors.NotFoundError: no such stream.
        """
        _validate_stream_name(name)
        payload = b""
        if subjects_filter:
            payload = json.dumps({"subjects_filter": subjects_filter}).encode()
        resp = await self._api_request(
            f"{self._prefix}.STREAM.INFO.{name}", payload, timeout=self._timeout
        )
        return api.StreamInfo.from_response(resp)

    async def add_stream(
        self, config: api.StreamConfig | None = None, **params: Any
    ) -> api.StreamInfo:
        """Create a stream from ``config`` with ``params`` (``StreamConfig`` fields) over it.

        Raises:
            ValueError: the name is missing or invalid (nothing is sent).
            natsrs.js.errors.BadRequestError: the server refused the configuration
                (a stream of that name exists with another one, subjects overlap...).
        """
        config = (config or api.StreamConfig()).evolve(**params)
        _validate_stream_name(config.name)
        resp = await self._api_request(
            f"{self._prefix}.STREAM.CREATE.{config.name}",
            json.dumps(config.as_dict()).encode(),
            timeout=self._timeout,
        )
        return api.StreamInfo.from_response(resp)

    async def update_stream(
        self, config: api.StreamConfig | None = None, **params: Any
    ) -> api.StreamInfo:
        """Change a stream's configuration (``config`` with ``params`` over it).

        Raises:
            ValueError: the name is missing or invalid (nothing is sent).
            natsrs.js.errors.NotFoundError: no such stream.
            natsrs.js.errors.BadRequestError: the change is not allowed.
        """
        config = (config or api.StreamConfig()).evolve(**params)
        _validate_stream_name(config.name)
        resp = await self._api_request(
            f"{self._prefix}.STREAM.UPDATE.{config.name}",
            json.dumps(config.as_dict()).encode(),
            timeout=self._timeout,
        )
        return api.StreamInfo.from_response(resp)

    async def delete_stream(self, name: str) -> bool:
        """Delete a stream and its messages and consumers.

        Raises:
            natsrs.js.errors.NotFoundError: no such stream.
        """
        _validate_stream_name(name)
        resp = await self._api_request(
            f"{self._prefix}.STREAM.DELETE.{name}", b"", timeout=self._timeout
        )
        return bool(resp["success"])

    async def purge_stream(
        self,
        name: str,
        seq: int | None = None,
        subject: str | None = None,
        keep: int | None = None,
    ) -> bool:
        """Remove a stream's messages: all of them, those before ``seq``, those of
        ``subject``, or all but the last ``keep`` (``subject`` combines with the other
        two). As in nats-py, 0 means "not given" for ``seq`` and ``keep``.

        Raises:
            natsrs.js.errors.NotFoundError: no such stream.
            natsrs.js.errors.BadRequestError: ``seq`` and ``keep`` together.
        """
        _validate_stream_name(name)
        req = api.StreamPurgeRequest(seq=seq or None, filter=subject or None, keep=keep or None)
        resp = await self._api_request(
            f"{self._prefix}.STREAM.PURGE.{name}",
            json.dumps(req.as_dict()).encode(),
            timeout=self._timeout,
        )
        return bool(resp["success"])

    async def streams_info(self, offset: int = 0) -> list[api.StreamInfo]:
        """One page (at most 256, the server's page size) of the streams, from
        ``offset``."""
        resp = await self._api_request(
            f"{self._prefix}.STREAM.LIST",
            json.dumps({"offset": offset}).encode(),
            timeout=self._timeout,
        )
        return [api.StreamInfo.from_response(stream) for stream in resp.get("streams") or []]

    async def streams_info_iterator(self, offset: int = 0) -> api.StreamsListIterator:
        """One page of the streams from ``offset``, as an iterator that also has the
        page's ``offset`` and the ``total`` count."""
        resp = await self._api_request(
            f"{self._prefix}.STREAM.LIST",
            json.dumps({"offset": offset}).encode(),
            timeout=self._timeout,
        )
        return api.StreamsListIterator(resp["offset"], resp["total"], resp.get("streams") or [])

    # -- consumers ---------------------------------------------------------------------------

    async def add_consumer(
        self,
        stream: str,
        config: api.ConsumerConfig | None = None,
        timeout: float | None = None,
        **params: Any,
    ) -> api.ConsumerInfo:
        """Create (or update to the same configuration) a consumer on ``stream``.

        ``config`` with ``params`` (``ConsumerConfig`` fields) over it. A consumer with
        a ``name`` is created through ``CONSUMER.CREATE.<stream>.<name>`` (with its
        ``filter_subject`` appended, unless that is ``>``); one with only a
        ``durable_name`` through ``CONSUMER.DURABLE.CREATE.<stream>.<durable>``; an
        unnamed ephemeral one through ``CONSUMER.CREATE.<stream>``.

        Raises:
            ValueError: a stream or consumer name is invalid (nothing is sent).
            natsrs.js.errors.NotFoundError: no such stream.
            natsrs.js.errors.BadRequestError: the server refused the configuration.
        """
        _validate_stream_name(stream)
        config = (config or api.ConsumerConfig()).evolve(**params)
        if config.name:
            _validate_consumer_name(config.name)
        if config.durable_name:
            _validate_consumer_name(config.durable_name)
        # nats-py uses the name form only when the server is 2.9 or newer; natsrs needs
        # a server with JetStream's current API anyway, so it always does.
        if config.name:
            subject = f"{self._prefix}.CONSUMER.CREATE.{stream}.{config.name}"
            if config.filter_subject and config.filter_subject != ">":
                subject = f"{subject}.{config.filter_subject}"
        elif config.durable_name:
            subject = f"{self._prefix}.CONSUMER.DURABLE.CREATE.{stream}.{config.durable_name}"
        else:
            subject = f"{self._prefix}.CONSUMER.CREATE.{stream}"
        payload = json.dumps({"stream_name": stream, "config": config.as_dict()}).encode()
        resp = await self._api_request(subject, payload, timeout=timeout or self._timeout)
        return api.ConsumerInfo.from_response(resp)

    async def consumer_info(
        self, stream: str, consumer: str, timeout: float | None = None
    ) -> api.ConsumerInfo:
        """A consumer's configuration and state.

        Raises:
            natsrs.js.errors.NotFoundError: no such stream or consumer.
        """
        _validate_stream_name(stream)
        _validate_consumer_name(consumer)
        resp = await self._api_request(
            f"{self._prefix}.CONSUMER.INFO.{stream}.{consumer}",
            b"",
            timeout=self._timeout if timeout is None else timeout,
        )
        return api.ConsumerInfo.from_response(resp)

    async def delete_consumer(self, stream: str, consumer: str) -> bool:
        """Delete a consumer.

        Raises:
            natsrs.js.errors.NotFoundError: no such stream or consumer.
        """
        _validate_stream_name(stream)
        _validate_consumer_name(consumer)
        resp = await self._api_request(
            f"{self._prefix}.CONSUMER.DELETE.{stream}.{consumer}", b"", timeout=self._timeout
        )
        return bool(resp["success"])

    async def consumers_info(
        self, stream: str, offset: int | None = None
    ) -> list[api.ConsumerInfo]:
        """One page (at most 256) of a stream's consumers, from ``offset``."""
        _validate_stream_name(stream)
        payload = b"" if offset is None else json.dumps({"offset": offset}).encode()
        resp = await self._api_request(
            f"{self._prefix}.CONSUMER.LIST.{stream}", payload, timeout=self._timeout
        )
        return [api.ConsumerInfo.from_response(info) for info in resp.get("consumers") or []]

    async def pause_consumer(
        self,
        stream: str,
        consumer: str,
        pause_until: str | datetime.datetime,
        timeout: float | None = None,
    ) -> api.ConsumerPause:
        """Stop delivery until ``pause_until`` (an RFC 3339 string, as nats-py, or a
        ``datetime``, naive meaning UTC). nats-server 2.11+.

        Raises:
            natsrs.js.errors.NotFoundError: no such stream or consumer.
        """
        _validate_stream_name(stream)
        _validate_consumer_name(consumer)
        payload = json.dumps({"pause_until": api.Base._to_utc_iso(pause_until)}).encode()
        resp = await self._api_request(
            f"{self._prefix}.CONSUMER.PAUSE.{stream}.{consumer}",
            payload,
            timeout=self._timeout if timeout is None else timeout,
        )
        return api.ConsumerPause.from_response(resp)

    async def resume_consumer(
        self, stream: str, consumer: str, timeout: float | None = None
    ) -> api.ConsumerPause:
        """Resume a paused consumer now (a pause until a time long past, as nats-py)."""
        return await self.pause_consumer(stream, consumer, "1970-01-01T00:00:00Z", timeout)

    async def reset_consumer(
        self,
        stream: str,
        consumer: str,
        seq: int | None = None,
        timeout: float | None = None,
    ) -> api.ConsumerReset:
        """Reset a consumer's delivery state (nats-server 2.14+).

        Pending and redelivery counts clear and the consumer sequence restarts at 1.
        With ``seq`` (not 0) the next message delivered is at stream sequence ``seq`` or
        after; without, delivery resumes after the ack floor.

        Raises:
            natsrs.js.errors.ConsumerInvalidResetError: ``seq`` is before where the
                consumer's deliver policy lets it start.
            natsrs.js.errors.NotFoundError: no such stream or consumer.
        """
        _validate_stream_name(stream)
        _validate_consumer_name(consumer)
        payload = json.dumps({"seq": seq}).encode() if seq else b""
        try:
            resp = await self._api_request(
                f"{self._prefix}.CONSUMER.RESET.{stream}.{consumer}",
                payload,
                timeout=self._timeout if timeout is None else timeout,
            )
        except APIError as err:
            if err.err_code == _CONSUMER_INVALID_RESET:
                raise ConsumerInvalidResetError(
                    code=err.code, description=err.description, err_code=err.err_code
                ) from err
            raise
        return api.ConsumerReset.from_response(resp)

    # -- messages ----------------------------------------------------------------------------

    async def get_msg(
        self,
        stream_name: str,
        seq: int | None = None,
        subject: str | None = None,
        direct: bool | None = False,
        next: bool | None = False,
    ) -> api.RawStreamMsg:
        """A message of a stream: the one at ``seq``, the last of ``subject``, or with
        ``next`` the first of ``subject`` at ``seq`` or after.

        ``direct`` reads through the stream's direct-get API (the stream needs
        ``allow_direct``); the message's headers then include the server's ``Nats-*``
        ones. An empty payload reads as ``data=None``, as in nats-py.

        Raises:
            natsrs.js.errors.NotFoundError: no such message (or, without ``direct``,
                no such stream).
            natsrs.errors.NoRespondersError: ``direct`` on a stream that does not
                allow it (or does not exist), as in nats-py.
        """
        _validate_stream_name(stream_name)
        # nats-py's request body: last_by_subj replaces seq; next_by_subj replaces
        # last_by_subj and keeps seq.
        req: dict[str, Any] = {}
        if seq:
            req["seq"] = seq
        if subject:
            req.pop("seq", None)
            req["last_by_subj"] = subject
        if next:
            req["seq"] = seq
            req.pop("last_by_subj", None)
            req["next_by_subj"] = subject
        payload = json.dumps(req).encode()

        if direct:
            if subject and seq is None:
                # The last message of a subject is asked by the subject, with no body.
                subj = f"{self._prefix}.DIRECT.GET.{stream_name}.{subject}"
                payload = b""
            else:
                subj = f"{self._prefix}.DIRECT.GET.{stream_name}"
            # nats-py sends this one without _api_request: no responders stays
            # NoRespondersError rather than becoming ServiceUnavailableError.
            reply = await self._nc.request(subj, payload, timeout=self._timeout)
            return self._lift_msg_to_raw_msg(reply)

        resp = await self._api_request(
            f"{self._prefix}.STREAM.MSG.GET.{stream_name}", payload, timeout=self._timeout
        )
        raw = api.RawStreamMsg.from_response(resp["message"])
        if raw.hdrs:
            # hdrs stays the base64 text the server sent, as in nats-py.
            raw.headers = _parse_header_block(base64.b64decode(raw.hdrs))
        raw.data = base64.b64decode(raw.data) if raw.data else None
        return raw

    @staticmethod
    def _lift_msg_to_raw_msg(msg: Any) -> api.RawStreamMsg:
        """A direct-get reply as a ``RawStreamMsg``; a status reply raises."""
        headers = msg.headers
        if not msg.data:
            status = getattr(msg, "status", None)
            if status is None and headers:
                status = headers.get("Status")
            if status is not None:
                if int(status) == 404:
                    description = getattr(msg, "description", None)
                    if description is None and headers:
                        description = headers.get("Description")
                    raise NotFoundError(code=404, description=description)
                APIError.from_msg(msg)
        if headers is None:
            raise APIError(description="direct get reply without headers")
        raw = api.RawStreamMsg(
            subject=headers.get(_NATS_SUBJECT),
            data=msg.data or None,
            headers=headers,
            stream=headers.get(_NATS_STREAM),
        )
        seq = headers.get(_NATS_SEQUENCE)
        if seq:
            raw.seq = int(seq)
        stamp = headers.get(_NATS_TIME_STAMP)
        if stamp:
            raw.time = api.Base._parse_utc_iso(stamp)
        return raw

    async def get_last_msg(
        self, stream_name: str, subject: str, direct: bool | None = False
    ) -> api.RawStreamMsg:
        """The last message of ``subject`` in the stream (``get_msg`` by subject)."""
        return await self.get_msg(stream_name, subject=subject, direct=direct)

    async def delete_msg(self, stream_name: str, seq: int) -> bool:
        """Delete the message at ``seq``.

        Raises:
            natsrs.js.errors.BadRequestError: no message at ``seq``.
            natsrs.js.errors.NotFoundError: no such stream.
        """
        _validate_stream_name(stream_name)
        resp = await self._api_request(
            f"{self._prefix}.STREAM.MSG.DELETE.{stream_name}",
            json.dumps({"seq": seq}).encode(),
            timeout=self._timeout,
        )
        return bool(resp["success"])

    # -- the request -------------------------------------------------------------------------

    async def _api_request(
        self, req_subject: str, req: bytes = b"", timeout: float = 5
    ) -> dict[str, Any]:
        """Send one API request and read its JSON answer.

        Raises:
            natsrs.js.errors.ServiceUnavailableError: nobody answers the subject
                (JetStream is off, or the prefix is wrong).
            natsrs.js.errors.APIError: (a subclass by ``code``) the answer is an error.
            natsrs.errors.TimeoutError: no answer within ``timeout``.
        """
        try:
            msg = await self._nc.request(req_subject, req, timeout=timeout)
        except NoRespondersError:
            raise ServiceUnavailableError() from None
        resp: dict[str, Any] = json.loads(msg.data)
        if "error" in resp:
            APIError.from_error(resp["error"])
        return resp
