"""`/`: where a person who opens the gateway's address in a browser lands (the API docs)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import RedirectResponse

router = APIRouter(tags=["operations"])


@router.get("/", include_in_schema=False)
async def home() -> RedirectResponse:
    return RedirectResponse("/docs", status_code=307)
