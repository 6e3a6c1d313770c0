"""GET/POST /connect/{token}: where a user pastes an API key, reveals a webhook's signing secret once, or (OAuth,
for a client that opened the page itself) goes on to the provider's consent screen.

Every page says which Renubu user and which integration the link is for, so a user sent someone else's link
can tell. GET shows the form and spends nothing (link previews and prefetchers only GET). It also sets a cookie
holding a random nonce (SameSite=Strict, HttpOnly, scoped to this link's path); the form carries an HMAC of the
link and that nonce. A POST must bring both, and must not come from another site (Sec-Fetch-Site, Origin), so
another page cannot submit a key of its choosing into the user's install. The POST spends the link.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from mcp.server.mcpserver.exceptions import ToolError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..authserver.redirects import form_target
from ..oauth import connect
from ..oauth.connect import CONNECT_PATH, Link, LinkUnavailable
from ..oauth.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, TOLERANCE_S
from .forms import cross_site, read_form
from .pages import BASE_HEADERS, esc, paragraph, render_page

log = logging.getLogger(__name__)

COOKIE = "renubu_connect"
NEW_LINK = "Ask your assistant to connect the integration again to get a new link."


def _refused(message: str, status_code: int, title: str = "This link cannot be used") -> Response:
    return render_page(title, paragraph(message), tone="error", status_code=status_code)


def _link_state_problem(app: Any, link: Link | None) -> Response | None:
    """The page for a link that cannot be used (unknown, spent, expired, someone else's), or None."""
    if link is None:
        return _refused(f"This link is not valid. {NEW_LINK}", 404)
    principal = getattr(app, "stdio_principal", None)
    if principal is not None and principal.user_id != link.user_id:
        return _refused("This link was made for a different Renubu user, so this server does not accept it.", 403)
    if link.consumed:
        if link.purpose == "webhook" and link.secret_hint:
            return _refused(
                f"The signing secret for {link.name} was already shown (it ends in \u2026{link.secret_hint}) and is "
                f"never shown again. To get a new one, which replaces it, ask your assistant to connect "
                f"{link.name} again.",
                410,
                title="Already used",
            )
        return _refused(f"This link has already been used. {NEW_LINK}", 410, title="Already used")
    if link.expired:
        return _refused(f"This link has expired (links last 10 minutes). {NEW_LINK}", 410, title="Link expired")
    if link.integration_disabled:
        return _refused(f"An admin has disabled {link.name}.", 409)
    if link.install_status == "revoked":
        return _refused(f"{link.name} was uninstalled. {NEW_LINK}", 409)
    return None


def _form(app: Any, link: Link, request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
    nonce = secrets.token_urlsafe(24)
    csrf = connect.csrf_token(app, link, nonce)
    hidden = f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
    problem = f'<p class="error" id="error">{esc(error)}</p>' if error else ""
    form_targets: tuple[str, ...] = ()
    if link.purpose == "oauth2":
        title = f"Connect {link.name}"
        body = (
            _for_whom(link)
            + paragraph(
                f"Next, {link.name} asks you to approve access. Renubu then keeps the access {link.name} "
                f"grants encrypted and uses it only to call {link.name} for you; it is never shown to you, "
                "an admin or your assistant."
            )
            + problem
            + f'<form method="post">{hidden}<button type="submit" id="submit">Continue to {esc(link.name)}'
            "</button></form>"
        )
        # Chromium applies form-action to the redirect that follows the POST: allow the provider's origin.
        form_targets = (form_target(link.authorization_url or ""),)
    elif link.purpose == "api_key":
        title = f"Connect {link.name}"
        body = (
            _for_whom(link)
            + paragraph(
                f"Paste your {link.name} API key. Renubu stores it encrypted and uses it only to call "
                f"{link.name} for you; it is never shown again, not to you, an admin or your assistant."
            )
            + problem
            + f'<form method="post" autocomplete="off">{hidden}'
            '<label for="api_key">API key</label>'
            f'<input type="password" id="api_key" name="api_key" required maxlength="{connect.MAX_API_KEY_CHARS}"'
            ' autocomplete="off" spellcheck="false">'
            '<button type="submit" id="submit">Connect</button></form>'
        )
    else:
        title = f"Connect webhooks from {link.name}"
        endpoint = connect.webhook_url(app, link.install_id)
        replaces = (
            f" It replaces the current secret (ending in \u2026{link.secret_hint}), which stops working."
            if link.secret_hint
            else ""
        )
        body = (
            _for_whom(link)
            + f'<p>{esc(link.name)} sends events to <code id="endpoint">{esc(endpoint)}</code>, signed with a '
            f"secret that only it and Renubu know.</p>"
            + paragraph(
                f"The signing secret is shown once, on the next page: have the sending product's webhook "
                f"settings open to paste it.{replaces}"
            )
            + problem
            + f'<form method="post">{hidden}<button type="submit" id="submit">Show the signing secret</button></form>'
        )
    response = render_page(title, body, tone="neutral", status_code=status_code, forms=True, form_targets=form_targets)
    secure = urlsplit(connect.base_url(app)).scheme == "https"
    response.set_cookie(
        COOKIE, nonce, max_age=600, path=request.url.path, secure=secure, httponly=True, samesite="strict"
    )
    return response


def _for_whom(link: Link) -> str:
    """Whose link this is, first: someone sent another user's link can tell, and close the page."""
    who = link.user_email or "another Renubu user"
    return (
        f'<p id="for-whom">This connects {esc(link.name)} to the Renubu account of <strong>{esc(who)}</strong>. '
        "If that is not you, or you did not ask your assistant to connect it, close this page.</p>"
    )


def _secret_page(app: Any, link: Link, secret: str) -> Response:
    endpoint = connect.webhook_url(app, link.install_id)
    body = (
        paragraph(
            f"{link.name} can now send events to Renubu. Copy the signing secret into the webhook settings "
            "of the sending product now: it is not shown again."
        )
        + f'<p>Endpoint: <code id="endpoint">{esc(endpoint)}</code></p>'
        + f'<p>Signing secret:</p><code class="secret" id="signing-secret">{esc(secret)}</code>'
        + "<p>Each delivery is a POST with the headers "
        + f"<code>{esc(TIMESTAMP_HEADER)}: &lt;unix seconds&gt;</code> and "
        + f"<code>{esc(SIGNATURE_HEADER)}: v1=&lt;hex HMAC-SHA256(secret, timestamp + &quot;.&quot; + body)&gt;"
        + f"</code>. Deliveries more than {TOLERANCE_S // 60} minutes old, or sent twice, are refused.</p>"
    )
    return render_page(f"Webhooks from {link.name} are set up", body, tone="ok")


def connect_endpoint(get_app: Callable[[], Any]) -> Callable[[Request], Any]:
    """The route handler; `get_app` returns the running AppState."""

    async def connect_page(request: Request) -> Response:
        app = get_app()
        token = request.path_params.get("token", "")
        if request.method == "POST" and cross_site(request, connect.base_url(app)):
            return _refused("This form was sent from another site, so nothing was stored.", 403)
        try:
            link = await connect.find_link(app, token)
        except LinkUnavailable:
            return _refused(
                "The Renubu database is unavailable right now. Try again in a moment.", 503, title="Try again"
            )
        problem = _link_state_problem(app, link)
        if problem is not None:
            return problem
        assert link is not None
        if request.method != "POST":
            return _form(app, link, request)

        form = await read_form(request)
        if form is None:
            return _form(app, link, request, error="The form could not be read. Try again.", status_code=400)
        if not connect.csrf_ok(app, link, request.cookies.get(COOKIE, ""), form.get("csrf", "")):
            return _form(
                app,
                link,
                request,
                status_code=403,
                error="This form is out of date (or did not come from this page). Try again.",
            )
        try:
            if link.purpose == "oauth2":
                going = await connect.begin_authorization(app, link)
                if isinstance(going, connect.Authorizing):
                    return RedirectResponse(going.authorization_url, status_code=303, headers=dict(BASE_HEADERS))
                done = going
            elif link.purpose == "api_key":
                api_key = form.get("api_key", "").strip()
                wrong = connect.check_api_key(api_key)
                if wrong:
                    return _form(app, link, request, error=wrong, status_code=400)
                done = await connect.submit_api_key(app, link, api_key)
            else:
                done = await connect.reveal_webhook_secret(app, link)
        except ToolError as exc:  # our own messages: no secret in them
            log.warning("connect page for %s failed: %s", link.slug, exc)
            return _refused(f"Nothing was stored: {exc}", 503, title="Try again")
        if not done.ok:
            return _refused(done.message, 410 if "already been used" in done.message else 409)
        if done.secret is not None:
            return _secret_page(app, link, done.secret)
        return render_page(f"{link.name} is connected", paragraph(done.message), tone="ok")

    return connect_page


def connect_routes(get_app: Callable[[], Any]) -> list[Route]:
    return [Route(CONNECT_PATH + "/{token}", connect_endpoint(get_app), methods=["GET", "POST"])]
