"""work_pages (issue 11): filled in by its page module owner."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
