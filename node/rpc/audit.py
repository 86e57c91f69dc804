"""Regulator audit routes (PROTOCOL.md, "Audit"). Filled in by the audit work; for now none."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    del app
