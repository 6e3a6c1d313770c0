"""Client ID Metadata Documents: a client named by an https URL is fetched, within fences, and can sign users in."""

from __future__ import annotations

import asyncio
import json

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from renubu_mcp.authserver import documents
from renubu_mcp.authserver.documents import DocumentRefused, address_allowed, check_url, fetch_document

from .conftest import CALLBACK, Registered, authorize_url, pkce, token_request


@pytest.mark.parametrize(
    ("address", "public", "development"),
    [
        ("93.184.216.34", True, True),
        ("2606:4700::1111", True, True),
        ("127.0.0.1", False, True),
        ("::1", False, True),
        ("10.1.2.3", False, False),
        ("192.168.0.10", False, False),
        ("172.16.5.4", False, False),
        ("169.254.169.254", False, False),
        ("100.64.0.1", False, False),
        ("fe80::1", False, False),
        ("fc00::1", False, False),
        ("224.0.0.1", False, False),
        ("0.0.0.0", False, False),
        ("::ffff:10.0.0.1", False, False),
        ("::ffff:169.254.169.254", False, False),
        ("240.0.0.1", False, False),
    ],
)
def test_only_public_addresses_are_fetched_and_loopback_only_in_development(address, public, development):
    assert address_allowed(address, development=False) is public
    assert address_allowed(address, development=True) is (public or development)


@pytest.mark.parametrize(
    ("url", "development"),
    [
        ("http://app.example/client.json", False),
        ("https://app.example", False),
        ("https://app.example/", False),
        ("https://user:pw@app.example/client.json", False),
        ("https://app.example/client.json#x", False),
        ("https://app.example/a/../client.json", False),
        ("ftp://app.example/client.json", True),
    ],
)
def test_a_client_id_url_must_be_https_with_a_plain_path(url, development):
    with pytest.raises(DocumentRefused):
        check_url(url, development=development)


def doc_for(url: str, **changes) -> dict:
    return {
        "client_id": url,
        "client_name": "Doc client",
        "redirect_uris": [CALLBACK],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        **changes,
    }


@pytest.fixture
async def documents_host(unused_tcp_port):
    base = f"http://127.0.0.1:{unused_tcp_port}"

    async def client(request: Request) -> Response:
        return JSONResponse(doc_for(f"{base}{request.url.path}"))

    async def confidential(request: Request) -> Response:
        return JSONResponse(doc_for(f"{base}{request.url.path}", token_endpoint_auth_method="client_secret_basic"))

    async def impostor(request: Request) -> Response:
        return JSONResponse(doc_for("https://someone-else.example/client.json"))

    async def moved(request: Request) -> Response:
        return RedirectResponse(f"{base}/client.json", status_code=302)

    async def huge(request: Request) -> Response:
        return JSONResponse(doc_for(f"{base}/huge.json", client_name="x" * 100_000))

    async def slow(request: Request) -> Response:
        await asyncio.sleep(5)
        return JSONResponse({})

    routes = [
        Route("/client.json", client),
        Route("/confidential.json", confidential),
        Route("/impostor.json", impostor),
        Route("/moved.json", moved),
        Route("/huge.json", huge),
        Route("/slow.json", slow),
        Route("/list.json", lambda r: JSONResponse([1, 2])),
    ]
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=routes), host="127.0.0.1", port=unused_tcp_port, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield base
    server.should_exit = True
    await task


async def test_a_document_is_fetched_on_loopback_in_development_only(documents_host):
    document = await fetch_document(f"{documents_host}/client.json", development=True)
    assert document["client_name"] == "Doc client"
    with pytest.raises(DocumentRefused, match="https"):
        await fetch_document(f"{documents_host}/client.json", development=False)
    for host in ("127.0.0.1", "localhost"):  # https, but a loopback address outside development: not even tried
        with pytest.raises(DocumentRefused, match="not on the public internet"):
            await fetch_document(f"https://{host}:{documents_host.rsplit(':', 1)[1]}/client.json", development=False)
    with pytest.raises(DocumentRefused, match="not on the public internet"):
        await fetch_document("http://169.254.169.254/latest/meta-data/client.json", development=True)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("moved.json", "redirects are not followed"),
        ("huge.json", "too large"),
        ("list.json", "not a JSON object"),
        ("missing.json", "HTTP 404"),
    ],
)
async def test_redirects_large_or_odd_answers_are_refused(documents_host, path, says):
    with pytest.raises(DocumentRefused, match=says):
        await fetch_document(f"{documents_host}/{path}", development=True)


async def test_a_slow_host_is_given_up_on(documents_host, monkeypatch):
    monkeypatch.setattr(documents, "TIMEOUT_SECONDS", 0.5)
    with pytest.raises(DocumentRefused, match="took too long"):
        await fetch_document(f"{documents_host}/slow.json", development=True)


async def test_a_client_named_by_its_document_signs_alice_in_without_registering(live, user_agent, documents_host):
    client = Registered(f"{documents_host}/client.json", None, CALLBACK)
    verifier, challenge = pkce()
    page = await user_agent.open(authorize_url(live, client, challenge))
    assert page.response.status_code == 200, page.text
    assert "Doc client" in page.text and f"published by <code>{documents_host[7:]}</code>" in page.text
    answer = await page.submit()
    code = dict(x.split("=", 1) for x in answer.headers["location"].split("?", 1)[1].split("&"))["code"]
    tokens = await token_request(
        live, client, grant_type="authorization_code", code=code, redirect_uri=CALLBACK, code_verifier=verifier
    )
    assert tokens.status_code == 200, tokens.text
    row = await live.owner.fetchrow(
        "SELECT kind, secret_sha256, metadata FROM renubu_auth.clients WHERE client_id = $1", client.client_id
    )
    assert (row["kind"], row["secret_sha256"], json.loads(row["metadata"])["client_name"]) == (
        "metadata_document",
        None,
        "Doc client",
    )


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("impostor.json", "another client_id"),
        ("confidential.json", "only &#x27;none&#x27; (PKCE)"),
        ("moved.json", "redirects are not followed"),
    ],
)
async def test_a_document_that_cannot_describe_a_client_here_is_refused_on_the_page(
    live, user_agent, documents_host, path, says
):
    client = Registered(f"{documents_host}/{path}", None, CALLBACK)
    page = await user_agent.open(authorize_url(live, client, pkce()[1]))
    assert page.response.status_code == 400 and says in page.text, page.text
    assert await live.owner.fetchval("SELECT count(*) FROM renubu_auth.clients") == 0
