"""The web chat page (issue 9): static files at ``/`` and ``/web/``, a thin client of the control API."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

WEB_DIR = Path(__file__).resolve().parent / "web"
# The page is a tool that changes with the sandbox: always revalidate, never serve a stale script.
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript"}


async def _index(request: web.Request) -> web.StreamResponse:
    return _serve("index.html")


async def _asset(request: web.Request) -> web.StreamResponse:
    return _serve(request.match_info["name"])


def _serve(name: str) -> web.StreamResponse:
    path = WEB_DIR / name
    content_type = _TYPES.get(path.suffix)
    # Only the page's own files by plain name: no sub-paths, no dot files, no other types.
    if content_type is None or "/" in name or name.startswith(".") or not path.is_file():
        raise web.HTTPNotFound(text="not found")
    return web.Response(body=path.read_bytes(), content_type=content_type, charset="utf-8", headers=_HEADERS)


def register_web_chat(router: web.UrlDispatcher) -> None:
    router.add_get("/", _index)
    router.add_get("/web/{name}", _asset)
