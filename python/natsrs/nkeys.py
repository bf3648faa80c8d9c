"""NATS nkeys: create key pairs, derive public keys, sign nonces.

Everything runs in the extension (the Rust ``nkeys`` crate the engine uses), so no extra
package is needed. Seeds are secrets: keep them out of logs.

Example, an auth callback signing the server's nonce with a user seed::

    async def auth(nonce: bytes) -> natsrs.Auth:
        return natsrs.Auth(nkey=natsrs.nkeys.public_key(seed),
                           signature=natsrs.nkeys.sign(seed, nonce))
"""

from __future__ import annotations

from typing import Literal

from natsrs._natsrs import _nkeys_create, _nkeys_public_key, _nkeys_sign

__all__ = ["KeyKind", "create", "public_key", "sign"]

KeyKind = Literal["user", "account", "operator", "server", "cluster"]


def create(kind: KeyKind = "user") -> tuple[str, str]:
    """A new key pair: ``(seed, public_key)``; the seed starts with ``S``."""
    return _nkeys_create(kind)


def public_key(seed: str) -> str:
    """The public key (``U...``, ``A...``, ``O...``) of ``seed``.

    Raises:
        ValueError: the seed is malformed.
    """
    return _nkeys_public_key(seed)


def sign(seed: str, data: bytes) -> bytes:
    """The ed25519 signature of ``data`` by ``seed``'s key (64 bytes).

    Raises:
        ValueError: the seed is malformed.
    """
    return _nkeys_sign(seed, data)
