"""The client certificate chain and private key an ``ssl.SSLContext`` loaded, read back
out of the context's own OpenSSL ``SSL_CTX`` (Python's ``ssl`` gives no way to).

natsrs's TLS is rustls, so a context's ``load_cert_chain`` would otherwise be lost. In
CPython an ``_ssl._SSLContext`` object starts, right after the object header, with its
``SSL_CTX *`` (the same from 3.10 to 3.14); through ctypes, the OpenSSL that ``_ssl``
itself is linked against hands back the certificate, its chain and the key, as DER.

Anything that makes that reading unsafe or impossible (not CPython, no ctypes, ``_ssl``
built into the interpreter, a symbol missing, a pointer that does not behave like the
context's ``SSL_CTX``) means :func:`client_identity` returns None: natsrs then uses what
the public ``ssl`` API gives, and an mTLS failure says how to pass the certificate.

The key is a secret: it is returned in a ``bytearray`` the caller wipes once copied,
never logged, never written to disk.
"""

from __future__ import annotations

import logging
import ssl
import sys
import threading
from typing import Any

logger = logging.getLogger("natsrs")

__all__ = ["client_identity"]

# OpenSSL's SSL_CTX_ctrl commands (ssl.h; unchanged since 1.0.2).
_SSL_CTRL_GET_EXTRA_CHAIN_CERTS = 82
_SSL_CTRL_GET_CHAIN_CERTS = 115
# SSL_CTX_get_verify_mode's bits, as ``ssl`` maps them to ``verify_mode``.
_VERIFY_MODES = {0: ssl.CERT_NONE, 1: ssl.CERT_OPTIONAL, 3: ssl.CERT_REQUIRED}


class _OpenSSL:
    """The OpenSSL functions ``_ssl`` uses, typed for ctypes."""

    OpenSSL_version_num: Any
    SSL_CTX_get_options: Any
    SSL_CTX_get_verify_mode: Any
    SSL_CTX_get0_certificate: Any
    SSL_CTX_get0_privatekey: Any
    SSL_CTX_ctrl: Any
    OPENSSL_sk_num: Any
    OPENSSL_sk_value: Any
    i2d_X509: Any
    EVP_PKEY2PKCS8: Any
    i2d_PKCS8_PRIV_KEY_INFO: Any
    PKCS8_PRIV_KEY_INFO_free: Any
    ERR_clear_error: Any

    def __init__(self, ctypes: Any, library: Any, ctx_offset: int) -> None:
        self.ctypes = ctypes
        self.ctx_offset = ctx_offset
        p = ctypes.c_void_p
        size = ctypes.c_int
        # OpenSSL 3 widened the options to uint64_t; 1.1.1 has an unsigned long.
        options = ctypes.c_uint64 if ssl.OPENSSL_VERSION_NUMBER >= 0x30000000 else ctypes.c_ulong
        signatures: dict[str, tuple[Any, list[Any]]] = {
            "OpenSSL_version_num": (ctypes.c_ulong, []),
            "SSL_CTX_get_options": (options, [p]),
            "SSL_CTX_get_verify_mode": (size, [p]),
            "SSL_CTX_get0_certificate": (p, [p]),
            "SSL_CTX_get0_privatekey": (p, [p]),
            "SSL_CTX_ctrl": (ctypes.c_long, [p, size, ctypes.c_long, p]),
            "OPENSSL_sk_num": (size, [p]),
            "OPENSSL_sk_value": (p, [p, size]),
            "i2d_X509": (size, [p, p]),
            "EVP_PKEY2PKCS8": (p, [p]),
            "i2d_PKCS8_PRIV_KEY_INFO": (size, [p, p]),
            "PKCS8_PRIV_KEY_INFO_free": (None, [p]),
            "ERR_clear_error": (None, []),
        }
        for name, (restype, argtypes) in signatures.items():
            function = getattr(library, name)  # AttributeError: the symbol is missing
            function.restype = restype
            function.argtypes = argtypes
            setattr(self, name, function)

    def ssl_ctx(self, context: ssl.SSLContext) -> int | None:
        """The context's ``SSL_CTX *``, once it has shown it is that context's."""
        address: int | None = self.ctypes.c_void_p.from_address(id(context) + self.ctx_offset).value
        if not address:
            return None
        # A pointer that is not this context's SSL_CTX would not agree with what the
        # context reports through ssl's public API.
        if self.SSL_CTX_get_options(address) != int(context.options):
            return None
        if _VERIFY_MODES.get(self.SSL_CTX_get_verify_mode(address)) != context.verify_mode:
            return None
        return address

    def der(self, encode: Any, handle: int) -> bytearray:
        """``encode`` (an ``i2d_*`` function) of ``handle``, written straight into a
        ``bytearray`` so that no immutable copy of a key is left behind."""
        size = encode(handle, None)
        if size <= 0:
            self.ERR_clear_error()
            raise ValueError("OpenSSL could not encode the client certificate or key")
        out = bytearray(size)
        buffer = (self.ctypes.c_ubyte * size).from_buffer(out)
        cursor = self.ctypes.c_void_p(self.ctypes.addressof(buffer))
        written = encode(handle, self.ctypes.byref(cursor))
        del buffer  # the bytearray cannot be resized (or wiped by slice) while exported
        if written != size:
            out[:] = bytes(len(out))
            self.ERR_clear_error()
            raise ValueError("OpenSSL could not encode the client certificate or key")
        return out

    def chain(self, ctx: int, leaf: int) -> list[bytes]:
        """The leaf certificate then the chain ``load_cert_chain`` loaded with it."""
        certs = [bytes(self.der(self.i2d_X509, leaf))]
        for command, only_extra in (
            (_SSL_CTRL_GET_CHAIN_CERTS, 0),
            (_SSL_CTRL_GET_EXTRA_CHAIN_CERTS, 1),
        ):
            stack = self.ctypes.c_void_p()
            self.SSL_CTX_ctrl(ctx, command, only_extra, self.ctypes.byref(stack))
            count = self.OPENSSL_sk_num(stack) if stack.value else 0
            for index in range(count):
                certs.append(bytes(self.der(self.i2d_X509, self.OPENSSL_sk_value(stack, index))))
            if count:
                break
        return certs

    def private_key(self, key: int) -> bytearray:
        """The key as PKCS#8 DER (what rustls takes for every key type)."""
        info = self.EVP_PKEY2PKCS8(key)
        if not info:
            self.ERR_clear_error()
            raise ValueError("OpenSSL could not export the client key as PKCS#8")
        try:
            return self.der(self.i2d_PKCS8_PRIV_KEY_INFO, info)
        finally:
            # PKCS8_PRIV_KEY_INFO_free clears the key material before freeing it.
            self.PKCS8_PRIV_KEY_INFO_free(info)


_lock = threading.Lock()
_loaded: list[_OpenSSL | None] = []


def _load() -> _OpenSSL | None:
    if sys.implementation.name != "cpython":
        return None
    try:
        import _ssl
        import ctypes
    except ImportError:
        return None
    path = getattr(_ssl, "__file__", None)
    if path is None:
        # Built into the interpreter: which OpenSSL it carries cannot be told apart
        # from any other in the process.
        return None
    base = _ssl._SSLContext
    ctx_offset = object.__basicsize__
    if base.__basicsize__ < ctx_offset + ctypes.sizeof(ctypes.c_void_p):
        return None
    try:
        # dlopen of the loaded module returns its handle, and dlsym on a handle searches
        # the module and then the libraries it was linked against: _ssl's own OpenSSL,
        # even when the process holds others. Where that search does not reach the
        # dependencies (Windows), the symbols are missing and natsrs does without.
        library = ctypes.PyDLL(path)
        openssl = _OpenSSL(ctypes, library, ctx_offset)
    except (OSError, AttributeError) as err:
        logger.debug("natsrs: cannot read client certificates out of ssl contexts: %s", err)
        return None
    if openssl.OpenSSL_version_num() != ssl.OPENSSL_VERSION_NUMBER:
        return None
    return openssl


def _openssl() -> _OpenSSL | None:
    """The OpenSSL ``_ssl`` uses, or None when a context cannot be read safely."""
    with _lock:
        if not _loaded:
            _loaded.append(_load())
        return _loaded[0]


def client_identity(
    context: ssl.SSLContext,
) -> tuple[list[bytes], bytearray | None] | None:
    """The certificate chain (DER, leaf first) and PKCS#8 DER key ``context`` presents.

    ``([], None)`` when it holds no certificate and key; None when they cannot be read
    out of it on this interpreter.

    Raises:
        ValueError: OpenSSL could not encode what the context holds.
    """
    openssl = _openssl()
    if openssl is None or not isinstance(context, ssl.SSLContext):
        return None
    ctx = openssl.ssl_ctx(context)
    if ctx is None:
        logger.debug("natsrs: an ssl.SSLContext did not look as expected; not read")
        return None
    leaf = openssl.SSL_CTX_get0_certificate(ctx)
    key = openssl.SSL_CTX_get0_privatekey(ctx)
    if not leaf or not key:
        return [], None
    return openssl.chain(ctx, leaf), openssl.private_key(key)
