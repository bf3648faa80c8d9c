"""Issue operator/account/user JWTs and .creds files for test servers.

Made with natsrs.nkeys at test time, so every credential a test uses can be regenerated
by anyone (no hand-made fixtures). The format is NATS JWT v2: base64url(header) "."
base64url(claims) "." base64url(ed25519 signature by the issuer's nkey).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from natsrs import nkeys


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def encode_jwt(claims_nats: dict[str, Any], *, subject: str, issuer_seed: str, name: str) -> str:
    header = {"typ": "JWT", "alg": "ed25519-nkey"}
    claims: dict[str, Any] = {
        "iat": int(time.time()),
        "iss": nkeys.public_key(issuer_seed),
        "name": name,
        "sub": subject,
        "nats": {**claims_nats, "version": 2},
    }
    digest = hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).digest()
    claims["jti"] = base64.b32encode(digest).decode().rstrip("=")
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = nkeys.sign(issuer_seed, signing_input.encode())
    return f"{signing_input}.{_b64(signature)}"


@dataclass(frozen=True)
class UserCredentials:
    jwt: str
    seed: str

    def creds(self) -> str:
        return (
            "-----BEGIN NATS USER JWT-----\n"
            f"{self.jwt}\n"
            "------END NATS USER JWT------\n\n"
            "************************* IMPORTANT *************************\n"
            "NKEY Seed printed below can be used to sign and prove identity.\n\n"
            "-----BEGIN USER NKEY SEED-----\n"
            f"{self.seed}\n"
            "------END USER NKEY SEED------\n"
        )


@dataclass(frozen=True)
class OperatorSetup:
    """An operator, one account, and a server config trusting them (memory resolver)."""

    operator_seed: str
    account_seed: str
    server_config: str

    def user(self, name: str = "user") -> UserCredentials:
        seed, public = nkeys.create("user")
        claims = {"type": "user", "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1}
        jwt = encode_jwt(claims, subject=public, issuer_seed=self.account_seed, name=name)
        return UserCredentials(jwt=jwt, seed=seed)


def operator_setup() -> OperatorSetup:
    operator_seed, operator_public = nkeys.create("operator")
    account_seed, account_public = nkeys.create("account")
    _system_seed, system_public = nkeys.create("account")
    operator_jwt = encode_jwt(
        {"type": "operator", "system_account": system_public},
        subject=operator_public,
        issuer_seed=operator_seed,
        name="test-operator",
    )
    limits = {
        "subs": -1,
        "data": -1,
        "payload": -1,
        "imports": -1,
        "exports": -1,
        "wildcards": True,
        "conn": -1,
        "leaf": -1,
    }
    account_jwt = encode_jwt(
        {"type": "account", "limits": limits},
        subject=account_public,
        issuer_seed=operator_seed,
        name="test-account",
    )
    system_jwt = encode_jwt(
        {"type": "account", "limits": limits},
        subject=system_public,
        issuer_seed=operator_seed,
        name="SYS",
    )
    config = (
        f'operator: "{operator_jwt}"\n'
        f"system_account: {system_public}\n"
        "resolver: MEMORY\n"
        "resolver_preload: {\n"
        f'  {account_public}: "{account_jwt}"\n'
        f'  {system_public}: "{system_jwt}"\n'
        "}\n"
    )
    return OperatorSetup(
        operator_seed=operator_seed, account_seed=account_seed, server_config=config
    )
