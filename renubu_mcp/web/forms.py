"""Reading the small forms this server's own pages post back, and refusing ones another site made the browser send."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request

MAX_FORM_BYTES = 16 * 1024


def cross_site(request: Request, public_base_url: str) -> bool:
    """A POST another site made the browser send. With no-referrer, a same-origin form's Origin is `null`."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return False
    public = urlsplit(public_base_url)
    own = {f"{request.url.scheme}://{request.headers.get('host', '')}", f"{public.scheme}://{public.netloc}"}
    return origin.rstrip("/") not in own


async def read_form(request: Request, *, max_fields: int = 5, max_bytes: int = MAX_FORM_BYTES) -> dict[str, str] | None:
    """The fields of a urlencoded form, each given once; None when it is not one, too large, or malformed."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            return None
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError):
        return None
    if any(len(v) != 1 for v in fields.values()):
        return None
    return {k: v[0] for k, v in fields.items()}
