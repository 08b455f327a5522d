"""The one formatter of pydantic errors: a `ValidationError` as the lines a person reads.

Every input contract (the application file, trigger ``--data``, the points-test profile) reports
its problems through `format_errors`, one line per problem, ``where: what``:
``profile.degrees[0].level: input should be 'doctorate', … (got 'phd')``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from pydantic import BaseModel, ValidationError

from states.errors import InvalidInput


def format_errors(
    err: ValidationError, *, root: str = "", model: type[BaseModel] | None = None
) -> list[str]:
    """One line per problem; ``root`` starts every path (e.g. ``profile``); given the ``model``
    validated, an unknown field names the fields allowed beside it."""
    return [_line(e, root, model) for e in err.errors()]


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
    message = error["msg"][:1].lower() + error["msg"][1:]
    if not isinstance(error["input"], dict | list):  # a whole object would drown the line
        message += f" (got {_short(repr(error['input']))})"
    return f"{where}: {message}"


def _path(root: str, loc: tuple[Any, ...]) -> str:
    """``profile`` + ``("degrees", 0, "level")`` -> ``profile.degrees[0].level``."""
    path = root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "input"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def check_name(value: str) -> str:
    """A person's name: one line. Besides control and bidi characters, line and paragraph
    separators (a name splitting a letter's greeting into lines) and the invisible tag
    characters (names that look alike but differ) are refused."""
    for ch in value:
        bad = _bad_character(ch, False)
        if bad is None and (
            unicodedata.category(ch) in ("Zl", "Zp") or 0xE0000 <= ord(ch) <= 0xE007F
        ):
            bad = f"U+{ord(ch):04X}"
        if bad is not None:
            raise ValueError(f"a name is one line of visible text; it contains {bad}")
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


def control_characters(data: Any, root: str = "") -> list[str]:
    """Where a JSON value holds text with control characters (newline and tab allowed)."""
    out: list[str] = []
    stack: list[tuple[str, Any]] = [(root, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            bad = _bad_character(value, True)
            if bad is not None:
                out.append(f"{where or 'input'}: contains a control character ({bad})")
        elif isinstance(value, dict):
            for k, v in value.items():
                key = str(k)
                if _bad_character(key, False) is not None:
                    out.append(f"{where or 'input'}: a field name contains a control character")
                    continue
                stack.append((f"{where}.{key}" if where else key, v))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(value))
    return sorted(out)
