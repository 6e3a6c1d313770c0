"""Redirect URIs: which a client may register, and whether a request names one of them.

Matching is exact (string equality), with one exception from RFC 8252 section 7.3: a native app's loopback
redirect (http on 127.0.0.1, [::1] or localhost) matches on any port, because the app listens on whatever port
is free when it signs in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from ..oauth.settings import is_loopback_host

MAX_URI_CHARS = 2000
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
# Schemes a browser would run, read or hand to another program instead of returning to the app.
_REFUSED_SCHEMES = frozenset(
    {
        "javascript",
        "data",
        "vbscript",
        "file",
        "about",
        "blob",
        "filesystem",
        "ftp",
        "ws",
        "wss",
        "mailto",
        "tel",
        "sms",
        "view-source",
        "chrome",
        "intent",
    }
)


def problem(uri: str) -> str | None:
    """Why a client may not register this redirect URI, or None."""
    if not uri or len(uri) > MAX_URI_CHARS:
        return f"a redirect URI must have 1 to {MAX_URI_CHARS} characters"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in uri):
        return "a redirect URI must not contain white space or control characters"
    parts = urlsplit(uri)
    if not _SCHEME.match(parts.scheme) or not uri.startswith(parts.scheme + ":"):
        return f"{uri!r} has no lowercase scheme"
    if parts.fragment or "#" in uri:
        return f"{uri!r} has a fragment (RFC 6749 section 3.1.2)"
    if parts.scheme in _REFUSED_SCHEMES:
        return f"{parts.scheme}: redirect URIs are not allowed"
    if parts.scheme in ("http", "https"):
        if not parts.hostname or parts.username is not None or parts.password is not None:
            return f"{uri!r} needs a host and no user name or password"
        if not _PLAIN_HOST.match(parts.netloc):
            return f"{uri!r}: write the host in ASCII (punycode)"
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            return f"{uri!r}: plain http is allowed only on a loopback address (127.0.0.1, [::1], localhost)"
    return None


def _loopback(uri: str):
    parts = urlsplit(uri)
    if parts.scheme != "http" or not is_loopback_host(parts.hostname) or parts.username or parts.password:
        return None
    return parts


def matches(registered: Iterable[str], requested: str) -> bool:
    """Whether `requested` is one of the registered redirect URIs (exactly, or a loopback one on another port)."""
    candidates = list(registered)
    if requested in candidates:
        return True
    asked = _loopback(requested)
    if asked is None:
        return False
    for uri in candidates:
        known = _loopback(uri)
        if known is not None and (known.hostname, known.path or "/", known.query) == (
            asked.hostname,
            asked.path or "/",
            asked.query,
        ):
            return True
    return False


_PLAIN_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:]+$")


def form_target(uri: str) -> str:
    """The CSP form-action source that lets the sign-in form's redirect reach this URI (Chromium enforces
    form-action on the redirect that follows a form's POST). Only characters a CSP source may hold get through."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and _PLAIN_HOST.match(parts.netloc):
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:" if _SCHEME.match(parts.scheme) else "'none'"


def shown_as(uri: str) -> str:
    """Where the browser goes back to, as the consent page names it: the host (and port), or the app's scheme."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        return parts.netloc
    return f"{parts.scheme}:" + (f"//{parts.netloc}" if parts.netloc else "")
