"""The look and the headers of this server's own HTML pages: inline CSS, no script, nothing loaded from anywhere.

Every value put into a page goes through html.escape; the page shell is ours. The headers forbid loading
anything (CSP `default-src 'none'`), framing, caching and sending a Referer onwards (the address bar may
hold a single-use token).
"""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

BASE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def security_headers(*, forms: bool, form_targets: tuple[str, ...] = ()) -> dict[str, str]:
    """The CSP allows posting forms back to this server only on pages that have one. form_targets: where such a
    form's answer may redirect the browser (Chromium applies form-action to that redirect too)."""
    form_action = " ".join(("'self'", *form_targets)) if forms else "'none'"
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action {form_action}; "
            "frame-ancestors 'none'"
        ),
        **BASE_HEADERS,
    }


_SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{title} - Renubu</title>
<style>
body{{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:#f6f7f9;color:#1d2330;margin:0}}
main{{max-width:34rem;margin:10vh auto;padding:2rem;background:#fff;border-radius:12px;
box-shadow:0 1px 3px rgba(0,0,0,.12)}}
h1{{font-size:1.3rem;margin:0 0 .75rem;color:{colour}}}
p{{margin:0 0 .75rem}}
label{{display:block;font-weight:600;margin:.5rem 0 .25rem}}
input[type=password],input[type=email]{{box-sizing:border-box;width:100%;padding:.5rem;font:inherit;
border:1px solid #b8bfcc;border-radius:6px}}
button{{margin-top:1rem;padding:.5rem 1.2rem;font:inherit;color:#fff;background:#1f5fbf;border:0;border-radius:6px;
cursor:pointer}}
button.secondary{{color:#1d2330;background:#e4e8ee;margin-left:.5rem}}
code{{font:14px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef1f5;padding:.1rem .3rem;
border-radius:4px;word-break:break-all}}
.secret{{display:block;padding:.75rem;margin:.5rem 0 1rem;font-size:15px;user-select:all}}
.error{{color:#a32020;font-weight:600}}
</style></head>
<body><main><h1>{title}</h1>{body}</main></body></html>
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def paragraph(text: str) -> str:
    return f"<p>{esc(text)}</p>"


COLOURS = {"ok": "#176b3a", "error": "#a32020", "neutral": "#1d2330"}


def render_page(
    title: str,
    body_html: str,
    *,
    tone: str,
    status_code: int = 200,
    forms: bool = False,
    form_targets: tuple[str, ...] = (),
) -> HTMLResponse:
    """A page: `title` is escaped here; `body_html` must already be built from escaped parts."""
    page = _SHELL.format(title=esc(title), body=body_html, colour=COLOURS[tone])
    return HTMLResponse(page, status_code=status_code, headers=security_headers(forms=forms, form_targets=form_targets))
