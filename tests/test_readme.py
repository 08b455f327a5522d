"""The README's lifecycle diagram is the one the machine draws (so it cannot drift)."""

from __future__ import annotations

import re
from pathlib import Path

from workflows.machine import mermaid

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_diagram__matches_the_machine() -> None:
    block = re.search(r"```mermaid\n(.*?)\n```", README.read_text(), re.S)
    assert block is not None, "README has no mermaid block"
    assert block.group(1) == mermaid()


def test_readme__starts_with_the_two_setup_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)\n```", README.read_text(), re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]
