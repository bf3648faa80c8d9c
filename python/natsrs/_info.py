"""Server facts as nats-py shows them, for ``natsrs.Client`` and ``natsrs.NATS`` alike."""

from __future__ import annotations

import re
import urllib.parse

__all__ = ["UNKNOWN_VERSION", "ServerVersion", "parse_url"]

UNKNOWN_VERSION = "0.0.0-unknown"
"""nats-py's version of a server it has not talked to."""

_SEMVER = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)


class ServerVersion:
    """nats-py's ``ServerVersion``: the connected server's semantic version."""

    def __init__(self, server_version: str = UNKNOWN_VERSION) -> None:
        self._server_version = server_version
        self._parts: dict[str, str] | None = None

    def _parsed(self) -> dict[str, str]:
        if self._parts is None:
            match = _SEMVER.match(self._server_version)
            if match is None:
                raise ValueError(f"{self._server_version} is not a valid Semantic Version")
            self._parts = {k: v or "" for k, v in match.groupdict().items()}
        return self._parts

    @property
    def major(self) -> int:
        return int(self._parsed()["major"])

    @property
    def minor(self) -> int:
        return int(self._parsed()["minor"])

    @property
    def patch(self) -> int:
        return int(self._parsed()["patch"])

    @property
    def prerelease(self) -> str:
        return self._parsed()["prerelease"]

    @property
    def build(self) -> str:
        return self._parsed()["build"]

    @property
    def dev(self) -> str:
        parts = self._parsed()
        return (
            "+".join([parts["prerelease"], parts["build"]])
            if parts["build"]
            else parts["prerelease"]
        )

    def __repr__(self) -> str:
        return f"<nats server v{self._server_version}>"


def parse_url(url: str) -> urllib.parse.ParseResult:
    """A pool URL as nats-py shows it: a ``ParseResult`` with the default port filled in."""
    uri = urllib.parse.urlparse(url)
    if uri.port is None and uri.scheme not in ("ws", "wss"):
        uri = uri._replace(netloc=f"{uri.netloc.rstrip(':')}:4222")
    return uri
