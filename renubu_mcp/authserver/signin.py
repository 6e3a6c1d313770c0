"""GET /authorize and POST /authorize/sign-in: the page where a user signs in and lets an MCP client act as them.

GET checks the request (the client, its exact redirect URI, PKCE S256, the resource) and shows the form, naming
the client and where the browser will go back to. Until the redirect URI is known to be the client's, problems
are shown on the page; after, they go back to the client as OAuth errors. Every answer that goes back carries
`iss` (RFC 9207). The attempt is stored in PostgreSQL (10 minutes, once), so any replica can take the POST.

The POST is protected as the connect pages are: a cookie nonce (SameSite=Strict, HttpOnly, scoped to
/authorize) and an HMAC of the attempt and that nonce in the form, and no cross-site submission. The email and
password are checked in PostgreSQL (renubu_auth.check_password); the page never says which of the two was wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from mcp.server.auth.provider import construct_redirect_uri
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..config import Settings
from ..db import DatabaseUnavailable
from ..web.forms import cross_site, read_form
from ..web.pages import BASE_HEADERS, esc, paragraph, render_page
from . import clients, policy, redirects, store
from .documents import DocumentRefused
from .tokens import digest, new_secret

log = logging.getLogger(__name__)

COOKIE = "renubu_sign_in"
_SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")  # tokens.new_secret(), and an S256 code challenge
MAX_STATE_CHARS = 1024
MAX_EMAIL_CHARS = 320
MAX_PASSWORD_CHARS = 1024
START_AGAIN = "Start signing in again from your app."
DATABASE_ERRORS = (DatabaseUnavailable, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _problem(message: str, status_code: int, title: str = "Cannot sign in") -> Response:
    return render_page(title, paragraph(message), tone="error", status_code=status_code)


def database_trouble(exc: BaseException) -> None:
    """Log why a step could not be taken (never the request's secrets), naming the fix for a missing grant."""
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        log.error(
            "the login role may not use schema renubu_auth: GRANT USAGE ON SCHEMA renubu_auth and EXECUTE on "
            "its functions to it (the migrations grant them to authenticator), or sign-in cannot work"
        )
    else:
        log.warning("authorization server: database %s", type(exc).__name__)


def _unavailable(exc: BaseException) -> Response:
    database_trouble(exc)
    return _problem("The Renubu database is unavailable right now. Try again in a moment.", 503, title="Try again")


def _back_to_client(settings: Settings, redirect_uri: str, **params: str | None) -> Response:
    """303 to the client's redirect URI with the answer, and this server's issuer (RFC 9207)."""
    location = construct_redirect_uri(redirect_uri, **params, iss=policy.issuer(settings))
    return RedirectResponse(location, status_code=303, headers=dict(BASE_HEADERS))


def _csrf(settings_secret: str, attempt_hash: str, nonce: str) -> str:
    key = hmac.new(settings_secret.encode(), b"renubu-sign-in-csrf", hashlib.sha256).digest()
    return hmac.new(key, f"{attempt_hash}:{nonce}".encode(), hashlib.sha256).hexdigest()


def _form(
    app: Any,
    settings: Settings,
    client: clients.Client,
    redirect_uri: str,
    attempt: str,
    *,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    nonce = secrets.token_urlsafe(24)
    csrf = _csrf(app.jwt_secret, digest(attempt), nonce)
    name = client.name
    who = f"<strong>{esc(name)}</strong>" if name else "An app that did not give its name"
    if client.kind == "metadata_document":
        who += f" (published by <code>{esc(urlsplit(client.client_id).netloc)}</code>)"
    body = (
        f"<p>{who} wants to use Renubu as you: it will see and change what you can see and change.</p>"
        f'<p>After you sign in, your browser goes back to <code id="redirect-host">'
        f"{esc(redirects.shown_as(redirect_uri))}</code>. Sign in only if you started this from that app.</p>"
        + (f'<p class="error" id="error">{esc(error)}</p>' if error else "")
        + f'<form method="post" action="{esc(policy.SIGN_IN_PATH)}">'
        f'<input type="hidden" name="attempt" value="{esc(attempt)}">'
        f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
        '<label for="email">Email</label>'
        f'<input type="email" id="email" name="email" required maxlength="{MAX_EMAIL_CHARS}" autocomplete="username"'
        f' value="{esc(email)}">'
        '<label for="password">Password</label>'
        f'<input type="password" id="password" name="password" required maxlength="{MAX_PASSWORD_CHARS}"'
        ' autocomplete="current-password">'
        '<button type="submit" name="decision" value="allow" id="allow">Sign in and allow</button>'
        '<button type="submit" name="decision" value="deny" id="deny" class="secondary" formnovalidate>'
        "Deny</button></form>"
    )
    response = render_page(
        "Sign in to Renubu",
        body,
        tone="neutral",
        status_code=status_code,
        forms=True,
        form_targets=(redirects.form_target(redirect_uri),),
    )
    response.set_cookie(
        COOKIE,
        nonce,
        max_age=600,
        path=policy.AUTHORIZE_PATH,
        secure=urlsplit(settings.base_url).scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


def authorize_endpoint(settings: Settings, get_app: Callable[[], Any]) -> Callable[[Request], Any]:
    async def authorize(request: Request) -> Response:
        items = request.query_params.multi_items()
        params = dict(items)
        if len(params) != len(items):  # RFC 6749 section 3.1: no parameter may appear twice
            return _problem(f"This sign-in link is malformed. {START_AGAIN}", 400)
        app = get_app()
        try:
            client = await clients.find(app, params.get("client_id", ""), fetch_document=True)
        except DocumentRefused as refused:
            return _problem(f"The app could not be identified: {refused}.", 400)
        except DATABASE_ERRORS as exc:
            return _unavailable(exc)
        if client is None:
            return _problem(f"This sign-in link names an app that is not registered here. {START_AGAIN}", 400)
        registered = [str(uri) for uri in client.redirect_uris or []]
        redirect_uri = params.get("redirect_uri") or (registered[0] if len(registered) == 1 else None)
        if redirect_uri is None or not redirects.matches(registered, redirect_uri):
            # Never redirect to an address the client did not register: that is how codes get stolen.
            return _problem(
                f"This sign-in link sends you back to an address the app did not register. {START_AGAIN}", 400
            )

        state = params.get("state")

        def refuse(error: str, description: str) -> Response:
            return _back_to_client(settings, redirect_uri, error=error, error_description=description, state=state)

        if params.get("response_type") != "code":
            return refuse("unsupported_response_type", "response_type must be code")
        challenge = params.get("code_challenge", "")
        if params.get("code_challenge_method") != "S256" or not _SECRET.match(challenge):
            return refuse("invalid_request", "PKCE is required: a code_challenge with code_challenge_method=S256")
        if state is not None and len(state) > MAX_STATE_CHARS:
            return refuse("invalid_request", f"state is longer than {MAX_STATE_CHARS} characters")
        resource = params.get("resource")
        if resource is not None and resource.rstrip("/") != policy.resource(settings):
            return refuse("invalid_target", f"this server issues tokens only for {policy.resource(settings)}")
        attempt = new_secret()
        try:
            # Scopes: what a user may do is decided by row-level security, not by the token; none are granted.
            await store.start_sign_in(
                app, digest(attempt), client.client_id, redirect_uri, challenge, state, resource, []
            )
        except DATABASE_ERRORS as exc:
            return _unavailable(exc)
        return _form(app, settings, client, redirect_uri, attempt)

    return authorize


def sign_in_endpoint(settings: Settings, get_app: Callable[[], Any]) -> Callable[[Request], Any]:
    async def sign_in(request: Request) -> Response:
        if cross_site(request, settings.base_url):
            return _problem("This form was sent from another site, so nothing happened.", 403)
        form = await read_form(request, max_fields=6)
        if form is None:
            return _problem(f"The form could not be read. {START_AGAIN}", 400)
        attempt = form.get("attempt", "")
        if not _SECRET.match(attempt):
            return _problem(f"This sign-in is not valid. {START_AGAIN}", 400)
        app = get_app()
        try:
            row = await store.sign_in(app, digest(attempt))
            client = await clients.find(app, row["client_id"]) if row is not None else None
        except DATABASE_ERRORS as exc:
            return _unavailable(exc)
        if row is None or client is None:
            return _problem(f"This sign-in is not valid. {START_AGAIN}", 404)
        if not row["usable"]:
            return _problem(
                f"This sign-in has expired or was used already. {START_AGAIN}", 410, title="Sign-in expired"
            )
        redirect_uri = row["redirect_uri"]
        nonce = request.cookies.get(COOKIE, "")
        expected = _csrf(app.jwt_secret, digest(attempt), nonce)
        if not nonce or not hmac.compare_digest(expected.encode(), form.get("csrf", "").encode()):
            return _form(
                app,
                settings,
                client,
                redirect_uri,
                attempt,
                status_code=403,
                error="This form is out of date (or did not come from this page). Try again.",
            )
        try:
            if form.get("decision") == "deny":
                done = await store.finish_sign_in(app, digest(attempt), None, None)
                if done is None:
                    return _problem(f"This sign-in has expired or was used already. {START_AGAIN}", 410)
                return _back_to_client(
                    settings,
                    done["redirect_uri"],
                    error="access_denied",
                    error_description="the user did not allow access",
                    state=done["state"],
                )
            return await _check(app, settings, client, redirect_uri, attempt, form)
        except DATABASE_ERRORS as exc:
            return _unavailable(exc)

    return sign_in


async def _check(
    app: Any, settings: Settings, client: clients.Client, redirect_uri: str, attempt: str, form: dict[str, str]
) -> Response:
    email, password = form.get("email", "").strip(), form.get("password", "")
    if not email or not password or len(email) > MAX_EMAIL_CHARS or len(password) > MAX_PASSWORD_CHARS:
        return _form(
            app,
            settings,
            client,
            redirect_uri,
            attempt,
            email=email[:MAX_EMAIL_CHARS],
            status_code=400,
            error="Enter your email and your password.",
        )
    verdict = await store.check_password(app, email, password)
    outcome, wait = verdict["outcome"], verdict["retry_after_seconds"]
    log.info("sign-in for client %s: %s", client.client_id, outcome)
    if outcome == "ok":
        code = new_secret()
        done = await store.finish_sign_in(app, digest(attempt), verdict["user_id"], digest(code))
        if done is None:
            return _problem(f"This sign-in has expired or was used already. {START_AGAIN}", 410)
        return _back_to_client(settings, done["redirect_uri"], code=code, state=done["state"])
    if outcome == "inactive":
        return _problem("This Renubu account is deactivated. Ask an admin if you need it again.", 403)
    if outcome == "throttled":
        message = f"Too many failed sign-ins for this account. Wait {wait} seconds, then try again."
    elif outcome == "locked":
        message = (
            f"Too many failed sign-ins: this account is locked for {max(1, round(wait / 60))} minutes. "
            "An admin can lift the lock by setting a new password."
        )
    else:
        message = "The email or the password is not right." + (
            f" Wait {wait} seconds before trying again." if wait else ""
        )
    return _form(
        app,
        settings,
        client,
        redirect_uri,
        attempt,
        email=email,
        error=message,
        status_code=429 if outcome in ("throttled", "locked") else 401,
    )
