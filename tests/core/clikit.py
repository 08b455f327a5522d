"""The `qmas` command line driven in-process, as the CLI tests share it.

`qmas` runs ``qmas ARGS...`` against a fresh SQLite file and returns (exit code, stdout,
stderr), checking that no traceback reached the user; `ready` adds `qmas init` and the frozen
clock. The fixtures are registered by tests/core/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import time_machine

from console.cli import main
from tests.factories import add_staff
from workflows.engine import default_store

Result = tuple[int, str, str]
Qmas = Callable[..., Result]


@pytest.fixture
def qmas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Qmas]:
    """`qmas ARGS...` against a fresh SQLite file; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("QMAS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    default_store.cache_clear()

    def run(*argv: str) -> Result:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return int(exit_info.value.code or 0), out, err

    yield run
    default_store().dispose()
    default_store.cache_clear()


@pytest.fixture
def ready(qmas: Qmas, frozen_clock: time_machine.Traveller) -> Qmas:
    """An initialised database with the test staff (`tests.factories.STAFF`), on the frozen
    clock (every test that advances uses this)."""
    assert qmas("init")[0] == 0
    add_staff(default_store())
    return qmas
