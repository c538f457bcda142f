"""Sweep files (format ``chainlab-sweep/1``): a base session and the axes to vary.

Every refusal is a :class:`SweepError` whose message starts with the JSON path of the
offending field (``axes.norm``, ``sample.random``), like the session loader's; the
``main.py sweep`` command prints it on one line and exits with status 2.
docs/sweep-format.md documents the format, docs/sweep.schema.json is generated from
:class:`SweepSpec`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from engine.core.specs import Frozen
from engine.data.files import SESSION_LIMIT, FileLimitError, read_text
from engine.data.json_document import json_object, validated
from engine.data.session import CsvData, Session, SessionError, parse_session
from engine.sweeps.axes import SweepError, check_axes

FORMAT = "chainlab-sweep/1"
__all__ = ["FORMAT", "RandomSample", "Sweep", "SweepError", "SweepSpec", "load_sweep",
           "parse_sweep"]


class RandomSample(Frozen):
    random: int = Field(ge=1, description="how many distinct grid cells to draw")


class SweepSpec(Frozen):
    """The sweep file's JSON object."""

    format: Literal["chainlab-sweep/1"]
    name: str = ""
    base: str | dict[str, Any] = Field(
        description="a session (chainlab/1): inline, or a path relative to the sweep file")
    axes: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(
        min_length=1, description="axis (a shorthand or a dotted path into the session) "
        "-> its values")
    sample: Literal["grid"] | RandomSample = "grid"
    seed: int = Field(0, ge=0, lt=2**63, description="draws the random sample")


@dataclass(frozen=True)
class Sweep:
    """A checked sweep file with its base session resolved."""

    spec: SweepSpec
    raw: dict[str, Any]  # the sweep file as written, for sweep.json
    base: Session
    base_dir: Path  # the folder the base session's relative paths start from


def parse_sweep(text: str, folder: Path = Path()) -> Sweep:
    """Parse and check sweep JSON; ``folder`` is where a base path starts from.

    Raises
    ------
    SweepError
        Naming the field: invalid JSON, wrong format, no axes, an axis without values,
        an unknown axis or shorthand value, a base that cannot be read.
    """
    raw = json_object(text, FORMAT, "a sweep file", SweepError)
    spec = validated(SweepSpec, raw, _first_error, SweepError)
    for name, values in spec.axes.items():
        for index, value in enumerate(values):
            _check_finite(value, f"axes.{name}.{index}")
    base, base_dir = _load_base(spec.base, folder)
    check_axes(base, spec.axes)
    return Sweep(spec, raw, base, base_dir)


def _check_finite(value: Any, path: str) -> None:
    """NaN and ±Infinity (which Python's JSON reader accepts) are refused up front, as a
    session refuses them: a cell would run, then the summary could not be written."""
    if isinstance(value, float) and not math.isfinite(value):
        raise SweepError(path, f"{value} is not a number a session can hold: use a "
                               "finite number")
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_finite(item, f"{path}.{index}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{path}.{key}")


def load_sweep(path: str | Path) -> Sweep:
    """Read a sweep file (a regular file of at most ``SESSION_LIMIT`` bytes)."""
    path = Path(path)
    try:
        text = read_text(path, SESSION_LIMIT)
    except FileLimitError as error:
        raise SweepError("", str(error)) from None
    return parse_sweep(text, path.parent)


def _load_base(base: str | dict[str, Any], folder: Path) -> tuple[Session, Path]:
    if isinstance(base, str):
        path = Path(base) if Path(base).is_absolute() else folder / base
        try:
            text = read_text(path, SESSION_LIMIT)
        except FileLimitError as error:
            raise SweepError("base", str(error)) from None
        base_dir = path.parent
    else:
        text, base_dir = json.dumps(base), folder
    try:
        session = parse_session(text)
    except SessionError as error:
        raise SweepError(f"base.{error.path}" if error.path else "base", error.message) \
            from None
    return _absolute_csv(session, base_dir), base_dir


def _absolute_csv(session: Session, base_dir: Path) -> Session:
    """A csv path made absolute, so a cell's session.json runs from its own folder."""
    data = session.data
    if isinstance(data, CsvData) and not Path(data.path).is_absolute():
        absolute = str((base_dir / data.path).resolve())
        return session.model_copy(update={"data": data.model_copy(update={"path": absolute})})
    return session


def _first_error(error: ValidationError) -> SweepError:
    errors = error.errors()
    # of a union's alternatives, the one that got furthest ({"random": 0}: its field)
    first = max(errors, key=lambda e: len(e["loc"]))
    tags = {"str", "dict[str,any]", "RandomSample", "literal['grid']", "constrained-int",
            "int"}
    path = ".".join(str(part) for part in first["loc"] if str(part) not in tags)
    message = first["msg"]
    if first["type"] == "missing":
        message = "required field is missing"
    elif first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "too_short" and path == "axes":
        message = "a sweep needs at least one axis"
    elif first["type"] == "too_short" and path.startswith("axes."):
        message = "an axis needs at least one value"
    elif first["type"] == "literal_error":
        message = f"{message} (got {first.get('input')!r})"
    return SweepError(path, message)


def json_schema() -> dict[str, Any]:
    return SweepSpec.model_json_schema()
