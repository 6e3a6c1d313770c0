"""The person at the client, for tests of what the server asks them: answers confirmations as told and, asked
to open a page (URL-mode elicitation), opens it in a browser and does what it asks.

    user = Person(browser, provider, confirm="yes")
    Client(server, mode=..., elicitation_callback=user)
    user.forms / user.pages      every question the client was asked, in order

A page is a connect page on this server: an API key is pasted, a webhook secret revealed, or (OAuth) the browser
goes on to the provider, approves there and comes back to the callback. The browser is any httpx client that
reaches the server's web routes (in-process through ASGI, or a real socket).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from mcp.types import ElicitRequestFormParams, ElicitRequestURLParams, ElicitResult

from .fake_provider import FakeProvider

Answer = Literal["yes", "no", "decline", "cancel", "never"]
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


async def finish_page(
    browser: httpx.AsyncClient, url: str, provider: FakeProvider | None = None, api_key: str = "key-from-the-person-123"
) -> httpx.Response:
    """Open a connect page and complete it, as the person would; the last page they see."""
    path = urlsplit(url).path
    base = url[: url.index(path)]
    page = await browser.get(url)
    assert page.status_code == 200, page.text
    csrf = _CSRF.search(page.text)
    assert csrf, page.text
    fields = {"csrf": csrf.group(1)}
    if 'name="api_key"' in page.text:
        fields["api_key"] = api_key
    done = await browser.post(url, data=fields, headers={"Origin": base, "Sec-Fetch-Site": "same-origin"})
    if done.status_code != 303:
        return done
    assert provider is not None, "an OAuth page needs the provider"
    back = provider.approve(done.headers["location"])  # the person approves at the provider
    return await browser.get(f"{base}/oauth/callback", params=back)


@dataclass
class Person:
    browser: httpx.AsyncClient | None = None
    provider: FakeProvider | None = None
    confirm: Answer = "yes"  # what they answer a confirmation
    page: Literal["finish", "accept", "decline", "cancel"] = "finish"  # "accept": agrees, does not finish
    forms: list[ElicitRequestFormParams] = field(default_factory=list)
    pages: list[ElicitRequestURLParams] = field(default_factory=list)
    seen: list[httpx.Response] = field(default_factory=list)  # the last page of each visit

    async def __call__(self, context: Any, params: Any) -> ElicitResult:
        if isinstance(params, ElicitRequestURLParams):
            self.pages.append(params)
            if self.page in ("decline", "cancel"):
                return ElicitResult(action=self.page)
            if self.page == "finish":
                assert self.browser is not None
                self.seen.append(await finish_page(self.browser, params.url, self.provider))
            return ElicitResult(action="accept")
        self.forms.append(params)
        if self.confirm == "never":
            await asyncio.Event().wait()
        if self.confirm in ("decline", "cancel"):
            return ElicitResult(action=self.confirm)
        return ElicitResult(action="accept", content={"send": self.confirm == "yes"})
