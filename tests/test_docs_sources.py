"""The project carries its own sources (issue #8 §5).

- No tracked file points outside the repository: no citation of the old domain brief file, no
  absolute path on one machine.
- Every `docs/rules.md §X` citation (code, tests, templates, READMEs) names a numbered section
  heading of docs/rules.md, and so does every `§X` inside docs/rules.md itself.
- Every row of the sources table in docs/rules.md has an http(s) URL, a confidence from the
  agreed set, and sections that exist.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "docs" / "rules.md"

# Built from pieces so that this file does not match its own patterns.
OLD_BRIEF = "qmas" + ".md"
# An absolute path under the shared work area; a URL such as https://host/visa/work/... is
# preceded by a word character and is not one.
MACHINE_PATH = re.compile(r"(?<![\w.~-])" + "/" + "work/")

HEADING = re.compile(r"^(#{2,4}) (\d+(?:\.\d+)*)\.? +\S", re.M)
SECTION = re.compile(r"§(\d+(?:\.\d+)*)")
CITATION = re.compile(r"docs/rules\.md\s+§")
# A citation runs to the end of its parenthesis, string, comment or line: "(docs/rules.md §6.1
# Family points, §6.2 Dependants)" cites 6.1 and 6.2.
CITATION_END = re.compile(r"[)\"\n]|#}")
CONFIDENCE = frozenset({"official", "official copy", "news", "third party", "UNCONFIRMED"})
URL = re.compile(r"^https?://\S+$")


@cache
def tracked_files() -> tuple[Path, ...]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    done = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"not a git work tree: {done.stderr.strip()}")
    paths = (ROOT / name for name in done.stdout.split("\0") if name)
    return tuple(p for p in paths if ".venv" not in p.parts and p.is_file())


def text_of(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


@cache
def rules_text() -> str:
    return RULES.read_text(encoding="utf-8")


@cache
def sections() -> frozenset[str]:
    return frozenset(m.group(2) for m in HEADING.finditer(rules_text()))


def cited_sections(text: str) -> list[str]:
    """Every section named by a `docs/rules.md §X` citation in `text`."""
    out = []
    for m in CITATION.finditer(text):
        rest = text[m.start() :]
        end = CITATION_END.search(rest)
        out.extend(SECTION.findall(rest[: end.start() if end else len(rest)]))
    return out


def sources_table() -> tuple[list[str], list[list[str]]]:
    """The header and rows of the table under the last `## N. Sources` heading."""
    text = rules_text()
    heads = list(re.finditer(r"^## (\d+)\. Sources$", text, re.M))
    assert heads, "docs/rules.md has no '## N. Sources' section"
    body = text[heads[-1].end() :]
    lines = [line for line in body.splitlines() if line.startswith("|")]
    assert len(lines) > 2, "the Sources section has no table"
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    return header, rows


def test_no_tracked_file_points_outside_the_repository() -> None:
    offenders = []
    for path in tracked_files():
        for n, line in enumerate(text_of(path).splitlines(), 1):
            if OLD_BRIEF in line or MACHINE_PATH.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "cite docs/rules.md sections instead:\n" + "\n".join(offenders)


def test_rules_sections_are_numbered_once() -> None:
    numbers = [m.group(2) for m in HEADING.finditer(rules_text())]
    assert len(numbers) == len(set(numbers)), sorted(n for n in numbers if numbers.count(n) > 1)
    headings = [line for line in rules_text().splitlines() if re.match(r"#{2,4} ", line)]
    assert [h for h in headings if not HEADING.match(h)] == [], "every section is numbered"
    last_top = re.findall(r"^## (\d+)\. (.+)$", rules_text(), re.M)[-1]
    assert last_top[1] == "Sources", "Sources must be the last top-level section"


def test_every_citation_names_an_existing_section() -> None:
    known = sections()
    missing = []
    found = 0
    for path in tracked_files():
        for number in cited_sections(text_of(path)):
            found += 1
            if number not in known:
                missing.append(f"{path.relative_to(ROOT)}: docs/rules.md §{number}")
    for number in SECTION.findall(rules_text()):
        if number not in known:
            missing.append(f"docs/rules.md: §{number}")
    assert found, "no docs/rules.md citations found at all"
    assert not missing, "no such section:\n" + "\n".join(missing)


def test_cited_sections__reads_lists_and_stops_at_the_end_of_the_citation() -> None:
    text = 'x (docs/rules.md §6.1 Family points, §6.2 Dependants) and §3.10\n"docs/rules.md §1.4"'
    assert cited_sections(text) == ["6.1", "6.2", "1.4"]


def test_every_source_has_a_url_and_a_confidence() -> None:
    header, rows = sources_table()
    for column in ("id", "§", "source", "date", "URL", "confidence"):
        assert column in header, f"sources table lacks a {column!r} column"
    at = {name: i for i, name in enumerate(header)}
    problems = []
    ids = []
    for row in rows:
        if len(row) != len(header):
            problems.append(f"{row[0]}: {len(row)} cells, expected {len(header)}")
            continue
        ident = row[at["id"]]
        ids.append(ident)
        if not URL.match(row[at["URL"]]):
            problems.append(f"{ident}: URL {row[at['URL']]!r} is not an http(s) address")
        if row[at["confidence"]] not in CONFIDENCE:
            problems.append(
                f"{ident}: confidence {row[at['confidence']]!r} is not one of {sorted(CONFIDENCE)}"
            )
        if not row[at["source"]] or not row[at["date"]]:
            problems.append(f"{ident}: source title and date are required ('n.d.' if none)")
        cited = SECTION.findall(row[at["§"]])
        if not cited:
            problems.append(f"{ident}: names no section")
        problems.extend(f"{ident}: no section §{n}" for n in cited if n not in sections())
    assert rows, "the sources table is empty"
    assert len(ids) == len(set(ids)), "source ids repeat"
    assert not problems, "\n".join(problems)
