"""Fixtures of the core tests: the in-process command line (tests/core/clikit.py)."""

from tests.core.clikit import qmas, ready

__all__ = ["qmas", "ready"]
