"""The console's words for work pages (console/web/i18n.py merges them)."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {}
