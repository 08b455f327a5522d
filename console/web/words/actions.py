"""The console's words for actions pages (console/web/i18n.py merges them)."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {}
