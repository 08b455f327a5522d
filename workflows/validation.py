"""The one formatter of pydantic errors: a `ValidationError` as the lines a person reads.

Every input contract (the application file, trigger ``--data``, the points-test profile) reports
its problems through `format_errors`, one line per problem, ``where: what``:
``profile.degrees[0].level: input should be 'doctorate', … (got 'phd')``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


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
