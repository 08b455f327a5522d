"""The one formatter of pydantic errors, and the bounds every input shares.

Every input contract (the application file, trigger ``--data``, the points-test profile) reports
its problems through `format_errors`, one line per problem, ``where: what``:
``profile.degrees[0].level: input should be 'doctorate', … (got 'phd')``. A line quotes at most
80 characters of what was typed (`quote`), a number included. The bounds of a whole input (its
size, how deeply it nests), of a stored text (its column's length, `column_length`) and of a date
(`IsoDate`: written YYYY-MM-DD) live here too.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Collection
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ValidationError
from sqlalchemy import Table

from states.errors import InvalidInput

# An application file is a few kilobytes; the API refuses bodies over 1,000,000 bytes already.
MAX_INPUT_BYTES = 1 << 20  # 1 MiB
# The application file nests 4 levels (profile.degrees[0]); anything much deeper is not ours.
MAX_DEPTH = 20
QUOTE_LIMIT = 80  # characters of the input an error line may quote


def format_errors(
    err: ValidationError, *, root: str = "", model: type[BaseModel] | None = None
) -> list[str]:
    """One line per problem; ``root`` starts every path (e.g. ``profile``); given the ``model``
    validated, an unknown field names the fields allowed beside it."""
    return [_line(e, root, model) for e in err.errors()]


# pydantic's bounds, said with the bound readable ("at most 1,000,000,000", not 1000000000).
_BOUNDS = {
    "greater_than_equal": ("ge", "greater than or equal to"),
    "greater_than": ("gt", "greater than"),
    "less_than_equal": ("le", "less than or equal to"),
    "less_than": ("lt", "less than"),
}


def _number(value: Any) -> str:
    """A bound or what was typed, readable and cut to `QUOTE_LIMIT` (a 4,300-digit income too)."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            text = f"{value:,}"
        except ValueError:  # Python shows no int of more than 4,300 digits
            text = "a number of more than 4,300 digits"
    elif isinstance(value, float):
        text = f"{value:,g}"  # 80.0 -> 80, 4.5 -> 4.5
    else:
        text = repr(value)
    return _short(text)


def _line(error: Any, root: str, model: type[BaseModel] | None) -> str:
    loc = tuple(error["loc"])
    where = _path(root, loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        holder = _model_at(model, loc[:-1])
        allowed = f"; allowed: {', '.join(holder.model_fields)}" if holder else ""
        return f"{where}: unknown field{allowed}"
    if kind == "missing":
        return f"{where}: required field is missing"
    if kind == "value_error":
        return f"{where}: {error['ctx']['error']}"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        bound = _number(error["ctx"][key])
        return f"{where}: input should be {words} {bound} (got {_number(error['input'])})"
    if kind == "too_long" and isinstance(error["input"], dict | list):
        most, got = error["ctx"]["max_length"], error["ctx"].get("actual_length")
        given = f" ({got:,} given)" if isinstance(got, int) else ""
        return f"{where}: at most {most:,} items are accepted{given}"
    message = error["msg"][:1].lower() + error["msg"][1:]
    if not isinstance(error["input"], dict | list):  # a whole object would drown the line
        message += f" (got {_short(repr(error['input']))})"
    return f"{where}: {message}"


def refused_paths(err: ValidationError, *, root: str = "") -> set[str]:
    """Where a field's own check (a validator's sentence) refused the value: a sweep such as
    `control_characters` leaves these alone, so that one problem is one line, the specific one."""
    return {_path(root, tuple(e["loc"])) for e in err.errors() if e["type"] == "value_error"}


def _path(root: str, loc: tuple[Any, ...]) -> str:
    """``profile`` + ``("degrees", 0, "level")`` -> ``profile.degrees[0].level``."""
    path = root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = _join(path, str(part))
    return path or "input"


def _join(path: str, key: str) -> str:
    """``path.key``, with a key (typed by someone: a field name, a document) cut to 40."""
    key = _short(key, 40)
    return f"{path}.{key}" if path else key


def _short(text: str, limit: int = QUOTE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """What was typed, for an error line: at most ``limit`` characters, control characters
    escaped (``'a\\x1bb'``), never the whole of a long input."""
    text = value if isinstance(value, str) else repr(value)
    shown = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )
    return _short(shown, limit)


def column_length(table: Table, column: str) -> int:
    """The length of the text column that stores a field: the bound of the field's input, so
    that SQLite (which keeps any length) and PostgreSQL (which refuses a longer value) agree."""
    length = getattr(table.c[column].type, "length", None)
    if not isinstance(length, int):
        raise TypeError(f"{table.name}.{column} is not a text column of a fixed length")
    return length


# --- the bounds of a whole input --------------------------------------------------------------
def _size(n: int) -> str:
    if n >= 1.05 * MAX_INPUT_BYTES:
        return f"{n / MAX_INPUT_BYTES:.1f} MiB"
    return f"{n:,} bytes"


def size_problem(size: int, what: str) -> str | None:
    """``the application file is 1.3 MiB; at most 1 MiB is accepted``, or None within 1 MiB."""
    if size <= MAX_INPUT_BYTES:
        return None
    return f"{what} is {_size(size)}; at most 1 MiB ({MAX_INPUT_BYTES:,} bytes) is accepted"


def depth_of(data: Any) -> int:
    """How many objects and arrays nest in ``data`` (``{}`` is 1, ``{"a": []}`` is 2), found
    without recursion: a hostile input may nest far deeper than Python's stack."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list | tuple):
            children = value
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def json_bounds(data: Any, what: str) -> list[str]:
    """The problems of a parsed JSON input as a whole: nested more than `MAX_DEPTH` levels, or
    larger than `MAX_INPUT_BYTES` written compactly. Checked before anything else reads it."""
    depth = depth_of(data)
    if depth > MAX_DEPTH:
        return [f"{what} nests {depth:,} levels deep; at most {MAX_DEPTH} are accepted"]
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    size = len(text.encode("utf-8", "surrogatepass"))
    problem = size_problem(size, what)
    return [problem] if problem else []


def _model_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that holds the field at ``loc`` (following nested models)."""
    for part in loc:
        if isinstance(part, int):  # an item of a list keeps the list's model
            continue
        if model is None or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    return model


# The bidirectional embeddings, overrides and isolates: they reorder what a reader sees
# ("Trojan Source"), so a name could display as another. The marks LRM/RLM stay allowed.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _bad_character(text: str, multiline: bool) -> str | None:
    for ch in text:
        if ch in "\n\t" and multiline:
            continue
        if unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS:  # escapes, NUL, bidi
            return f"U+{ord(ch):04X}"
    return None


def _visible(text: str) -> bool:
    return any(ch.isprintable() and not ch.isspace() for ch in text)


# Letters that show nothing: the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0) are letters (Lo)
# that render blank; the braille blank (U+2800, a symbol) is listed for the reader's sake.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _has_letter_or_digit(text: str) -> bool:
    """A name shows a letter or a digit of some script; marks (U+0301), variation selectors,
    fillers and blanks alone show nothing a reader could tell apart."""
    return any(unicodedata.category(ch)[0] in "LN" and ch not in _BLANK_LETTERS for ch in text)


def check_name(value: str) -> str:
    """A person's name: one line. Besides control and bidi characters, line and paragraph
    separators (a name splitting a letter's greeting into lines) and the invisible tag
    characters (names that look alike but differ) are refused, and so is a name with no letter or
    digit (zero-width spaces, fillers such as U+3164, combining marks alone). An empty value is
    left to the field's own bound."""
    for ch in value:
        bad = _bad_character(ch, False)
        if bad is None and (
            unicodedata.category(ch) in ("Zl", "Zp") or 0xE0000 <= ord(ch) <= 0xE007F
        ):
            bad = f"U+{ord(ch):04X}"
        if bad is not None:
            raise ValueError(f"a name is one line of visible text; it contains {bad}")
    if value and not _has_letter_or_digit(value):
        raise ValueError("a name is one line of visible text; it has no visible character")
    return value


def check_free_text(value: str) -> str:
    """Free text in a file (an achievement's description): lines and tabs allowed; control and
    bidi characters, and text of invisible characters alone, refused."""
    bad = _bad_character(value, True)
    if bad is not None:
        raise ValueError(f"contains a control character ({bad})")
    if not _visible(value):
        raise ValueError("has no visible text")
    return value


def check_text(value: str | None, what: str, *, limit: int, multiline: bool) -> str | None:
    """Text a person typed: trimmed; control characters (escape codes, NUL) refused; longer
    than ``limit`` refused; ``None`` when nothing visible is left (spaces, zero-width marks)."""
    if value is None:
        return None
    text = value.strip()
    bad = _bad_character(text, multiline)
    if bad is not None:
        raise InvalidInput(f"{what} contains a control character ({bad})")
    if len(text) > limit:
        raise InvalidInput(f"{what} is longer than {limit:,} characters")
    if not any(ch.isprintable() and not ch.isspace() for ch in text):
        return None
    return text


def control_characters(data: Any, root: str = "", *, skip: Collection[str] = ()) -> list[str]:
    """Where a JSON value holds text with control characters (newline and tab allowed); texts at
    ``skip`` (`refused_paths`: their own check said why already) are not reported again."""
    out: list[str] = []
    stack: list[tuple[str, Any]] = [(root, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str) and (where or "input") not in skip:
            bad = _bad_character(value, True)
            if bad is not None:
                out.append(f"{where or 'input'}: contains a control character ({bad})")
        elif isinstance(value, dict):
            for k, v in value.items():
                key = str(k)
                if _bad_character(key, False) is not None:
                    out.append(f"{where or 'input'}: a field name contains a control character")
                    continue
                stack.append((_join(where, key), v))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(value))
    return sorted(out)


# --- dates ------------------------------------------------------------------------------------
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only: not \d


def check_date(value: Any) -> Any:
    """A date as a person writes it in a file or ``--data``: exactly ``YYYY-MM-DD``. pydantic on
    its own also takes a time (``1990-01-01T00:00:00``), a timestamp (``631152000``) and other
    digits; those are refused here, and a well-formed string is left to pydantic's calendar
    (``1990-02-30`` is no day)."""
    if isinstance(value, date) and not isinstance(value, datetime):  # given by Python callers
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise ValueError(f"must be a date written YYYY-MM-DD (got {quote(repr(value))})")


IsoDate = Annotated[date, BeforeValidator(check_date)]
