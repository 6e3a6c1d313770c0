"""Why a call to a third-party API got no answer, in words a user can act on: the name did not resolve, the
connection was refused or timed out, TLS failed. Names the host and port, never the path or query."""

from __future__ import annotations

import errno
import socket
import ssl

import httpx

# Who can fix what: an admin sets the integration's URLs (get_integration shows them); whoever runs this server,
# its network.
_NETWORK = "this server's network, firewall or proxy (HTTPS_PROXY)"


def unreachable(
    name: str,
    url: httpx.URL | str,
    exc: httpx.HTTPError,
    *,
    setting: str = "api_base_url",
    read_timeout_s: float | None = None,
) -> str:
    """One line saying what went wrong reaching `name` at `url` (the integration's `setting`) and what to check."""
    url = httpx.URL(url)
    host = url.host
    where = f"{host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    in_setting = f"the integration's {setting} (get_integration shows it)"
    cause = _root_cause(exc)

    if isinstance(exc, httpx.ConnectTimeout) and isinstance(cause, ssl.SSLError):
        return (
            f"could not reach {name} securely: the TLS handshake with {where} did not finish in time; check that "
            f"it speaks https, and {_NETWORK}"
        )
    if isinstance(exc, httpx.ConnectTimeout):
        return f"could not reach {name}: {where} did not accept a connection in time; check {_NETWORK}"
    if isinstance(exc, httpx.TimeoutException):
        within = f"within {read_timeout_s:g} seconds" if read_timeout_s else "in time"
        return (
            f"{name} ({where}) accepted the connection but did not answer {within}; it may be slow or down: "
            f"try again later"
        )
    if isinstance(cause, socket.gaierror):
        return (
            f"could not reach {name}: the name {host} does not resolve (DNS); check the host in {in_setting}, and "
            f"{_NETWORK}"
        )
    if isinstance(cause, ssl.SSLCertVerificationError):
        return (
            f"could not reach {name} securely: the TLS certificate of {host} failed verification "
            f"({cause.verify_message or 'not trusted'}); check the host in {in_setting}, and this server's CA "
            f"certificates (SSL_CERT_FILE)"
        )
    if isinstance(cause, ssl.SSLError):
        why = (cause.reason or type(cause).__name__).lower().replace("_", " ")
        return (
            f"could not reach {name} securely: the TLS handshake with {where} failed ({why}); check that the "
            f"scheme (https) and port in {in_setting} are the service's"
        )
    if isinstance(cause, ConnectionRefusedError):
        return (
            f"could not reach {name}: {where} refused the connection; check the port in {in_setting}, and that "
            f"the service is up"
        )
    if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"could not reach {name}: no route to {where} ({cause.strerror}); check {_NETWORK}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return (
            f"{name} ({where}) closed the connection or did not answer in HTTP; check the scheme (https or http) "
            f"and port in {in_setting}"
        )
    if isinstance(exc, httpx.ConnectError):
        return f"could not reach {name} at {where} ({_describe(exc, cause)}); check {_NETWORK}"
    return f"the connection to {name} ({where}) broke before it answered ({_describe(exc, cause)}); try again"


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost error under httpx's and httpcore's wrappers (the OSError or ssl error that started it)."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, BaseExceptionGroup) and exc.exceptions:  # anyio: several addresses, each failed
            exc = exc.exceptions[0]
            continue
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def _describe(exc: httpx.HTTPError, cause: BaseException) -> str:
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return type(exc).__name__
