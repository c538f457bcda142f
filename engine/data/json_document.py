"""The opening checks of every user-written Chain Lab document (sessions, sweep files):
it parses as JSON, it is an object, its ``"format"`` is the expected one, and it
validates against its model. Each failure is raised as the caller's own error type,
``error(json_path, message)``, so that the message names the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)
ErrorType = Callable[[str, str], Exception]


def json_object(text: str, expected_format: str, what: str,
                error: ErrorType) -> dict[str, Any]:
    """The document's JSON object, checked to be one and of ``expected_format``;
    ``what`` names it in the message ("a session")."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as decode_error:
        raise error("", f"invalid JSON at line {decode_error.lineno}, column "
                        f"{decode_error.colno}: {decode_error.msg}") from None
    except RecursionError:
        raise error("", "invalid JSON: nested too deeply") from None
    except ValueError as value_error:  # e.g. Python's limit on the digits of an integer
        raise error("", f"invalid JSON: {value_error}") from None
    if not isinstance(raw, dict):
        raise error("", f"{what} is a JSON object ({{...}})")
    if raw.get("format") != expected_format:
        raise error("format", f"expected \"{expected_format}\", got {raw.get('format')!r}")
    return raw


def validated(model: type[Model], raw: dict[str, Any],
              first_error: Callable[[ValidationError], Exception],
              error: ErrorType) -> Model:
    """``raw`` as ``model``; pydantic's errors become ``first_error``'s one message."""
    try:
        return model.model_validate(raw)
    except ValidationError as validation_error:
        raise first_error(validation_error) from None
    except RecursionError:  # deep nesting inside a field pydantic walks
        raise error("", "nested too deeply") from None
