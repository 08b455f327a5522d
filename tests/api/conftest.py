"""Fixtures of the API tests: a real uvicorn server per test (tests/api/apikit.py)."""

from tests.api.apikit import api

__all__ = ["api"]
