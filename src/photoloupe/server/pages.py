"""The desk's own HTML: the upload page and an offline endpoint list in place of Swagger UI.

Plain HTML and inline CSS only: the desk must work with no network, so no page loads
anything from elsewhere.
"""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
form{border:1px solid #ccc;border-radius:6px;padding:1rem;margin:1rem 0}
label{display:block;margin:.5rem 0}button{font-size:1rem;padding:.4rem 1rem}
code{background:#f2f2f2;padding:0 .2rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}
.err{color:#a00}
"""

CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en" dir="ltr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def upload_page(max_mb: int) -> str:
    return _page(
        "photoloupe desk",
        f"""<h1>photoloupe desk</h1>
<p>Examine a picture for evidence of its origin, AI generation or editing. Everything stays on
this machine. Files up to {max_mb} MB.</p>
<form method="post" action="/upload" enctype="multipart/form-data">
<h2>Check a picture</h2>
<label>Picture <input type="file" name="file" accept="image/*" required></label>
<label>Report language <select name="lang"><option value="en">English</option>
<option value="ar">العربية</option></select></label>
<button type="submit">Check</button>
</form>
<form method="post" action="/upload-compare" enctype="multipart/form-data">
<h2>Compare a copy with its claimed original</h2>
<label>Original <input type="file" name="original" accept="image/*" required></label>
<label>Suspect copy <input type="file" name="suspect" accept="image/*" required></label>
<button type="submit">Compare</button>
</form>
<p><a href="/docs">API</a> · <a href="/api/v1/cases">history (JSON)</a></p>""",
    )


def error_page(status: int, message: str) -> str:
    return _page(
        "photoloupe desk: error",
        f'<h1>Cannot examine this file</h1><p class="err">{escape(message)}</p>'
        f'<p>(HTTP {status})</p><p><a href="/">Back</a></p>',
    )


def docs_page(openapi: dict[str, Any]) -> str:
    rows = []
    for path, methods in openapi.get("paths", {}).items():
        for method, op in methods.items():
            summary = op.get("summary") or ""
            rows.append(
                f"<tr><td><code>{escape(method.upper())}</code></td>"
                f"<td><code>{escape(path)}</code></td><td>{escape(summary)}</td></tr>"
            )
    return _page(
        "photoloupe desk API",
        "<h1>photoloupe desk API</h1><p>The full description is "
        '<a href="/openapi.json">/openapi.json</a> (OpenAPI). Errors are '
        '<code>{"error": {"code", "message"}}</code>.</p>'
        "<table><tr><th>Method</th><th>Path</th><th>What</th></tr>" + "".join(rows) + "</table>",
    )
