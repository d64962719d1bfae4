"""REST routes (django-ninja router, mounted on productions.api.api)."""

from __future__ import annotations

from ninja import Router

router = Router()
