"""The dashboard's built files: `GET /` its index.html, `GET /ui/…` its hashed scripts and
styles (dashboard/dist, built by `make install`). Never guarded (rest/edge.py): the page
itself holds no data and asks for an API key when the gateway requires one.

Without a build the gateway serves as before, `/` redirecting to the API docs, and says in
one log line how to build the dashboard. The files are looked up once, at startup; the
index is held in memory; the hashed files are immutable, so browsers cache them for good.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from marketpulse_common.logs import get_logger

log = get_logger(__name__)

# Every dashboard file but index.html is under this prefix (dashboard/vite.config.ts).
UI_PREFIX = "/ui/"
BUILD_HINT = "make install (or: cd dashboard && npm ci && npm run build)"


def default_dist() -> Path:
    """dashboard/dist of the repository this gateway's source is in."""
    # services/gateway/src/marketpulse_gateway/dashboard.py → the repository root.
    return Path(__file__).resolve().parents[4] / "dashboard" / "dist"


class _ImmutableFiles(StaticFiles):
    """Vite names each file by its content hash: a name never changes meaning."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response


def install_dashboard(app: FastAPI, dist: Path | None) -> bool:
    """Serve the build in `dist` (default: the repository's); True when there is one."""
    dist = dist or default_dist()
    index = dist / "index.html"
    router = APIRouter(include_in_schema=False)
    if not (index.is_file() and (dist / "ui").is_dir()):
        log.info("dashboard not built, / redirects to /docs", dist=str(dist), build=BUILD_HINT)

        @router.get("/")
        async def docs() -> RedirectResponse:
            return RedirectResponse("/docs", status_code=307)

        app.include_router(router)
        return False

    page = index.read_bytes()

    @router.get("/")
    async def home() -> Response:
        # Always revalidated, so a rebuilt dashboard is picked up on the next load.
        return HTMLResponse(page, headers={"cache-control": "no-cache"})

    app.include_router(router)
    app.mount(UI_PREFIX.rstrip("/"), _ImmutableFiles(directory=dist / "ui"), name="dashboard")
    log.info("dashboard served at /", dist=str(dist))
    return True
