"""A lesson file (``resources/lessons/*.json``, format ``chainlab-lesson/1``): what it
says, the session it opens, the page it shows, and its claims in machine-readable form.

Each claim names a quantity the engine computes (see :mod:`engine.lessons.claims`) and
what the lesson says about it; ``main.py lessons --check`` and the test suite evaluate
every claim, so a lesson cannot teach what the simulator does not show.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from engine.core.specs import Frozen, NetworkSpec
from engine.data.files import FileLimitError, read_text
from engine.data.session import Session, SessionError, Task, parse_session

LESSON_FORMAT = "chainlab-lesson/1"
LESSONS_FOLDER = Path(__file__).resolve().parents[2] / "resources" / "lessons"
LESSON_LIMIT = 2 * 1024 * 1024
Page = Literal["chain", "gradients", "training", "evolution", "numbers", "activations",
               "norms"]
Quantity = Literal["pass", "stat", "gradient_ratio", "result", "result_ratio", "float",
                   "limit", "derivative_max", "singular_value_max"]


class LessonError(ValueError):
    """A lesson file that cannot be read; the message names the file and the field."""


class Claim(Frozen):
    """One checkable statement. ``says`` is the sentence; the rest says how to compute
    the quantity and what it must be (``equals`` with ``digits`` significant digits or
    an absolute ``tolerance``, ``equals_text``, ``below``, ``above``)."""

    says: str
    quantity: Quantity
    what: str | None = None  # pass: output, grad_output, grad_input, grad_weight,
    #                          grad_bias, local_derivative; stat: a LayerStats field
    layer: int | None = None
    index: list[int] = Field(default_factory=lambda: [0, 0])  # (sample or row, unit)
    inputs: list[list[float]] | None = None  # evaluate at these inputs instead
    path: str | None = None  # result: a dotted path into result.json ("history.loss.-1")
    denominator: str | None = None  # result_ratio: path / denominator
    format: str | None = None  # float, limit
    value: str | None = None  # float: the typed text
    field: str | None = None  # float: stored, error, ulp, bits; limit: a Limits field
    activation: str | None = None  # derivative_max
    network: NetworkSpec | None = None  # evaluate on this network instead of the session's
    task: Task | None = None  # result: run this task instead of the session's (another
    #                           algorithm on the same chain and data)
    equals: float | None = None
    digits: int | None = Field(None, ge=1, le=17)
    tolerance: float | None = Field(None, ge=0)
    equals_text: str | None = None
    below: float | None = None
    above: float | None = None

    @model_validator(mode="after")
    def _has_expectation(self) -> Claim:
        if all(v is None for v in (self.equals, self.equals_text, self.below, self.above)):
            raise ValueError("a claim needs equals, equals_text, below or above")
        if self.equals is not None and self.digits is None and self.tolerance is None:
            raise ValueError("equals needs digits or tolerance")
        return self


class Lesson(Frozen):
    format: Literal["chainlab-lesson/1"]
    title: str
    page: Page
    text: str  # HTML, the lesson itself
    try_this: list[str] = Field(default_factory=list)
    session: Session
    claims: list[Claim] = Field(min_length=1)


def parse_lesson(text: str, name: str = "lesson") -> Lesson:
    try:
        raw: Any = json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as error:
        raise LessonError(f"{name}: invalid JSON: {error}") from None
    if isinstance(raw, dict) and isinstance(raw.get("session"), dict):
        try:  # the session file's own checks, which span fields (shapes, data)
            parse_session(json.dumps(raw["session"]))
        except SessionError as error:
            raise LessonError(f"{name}: session.{error}") from None
    try:
        return Lesson.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise LessonError(f"{name}: {where}: {first['msg']}") from None


def load_lesson(path: Path) -> Lesson:
    try:
        text = read_text(path, LESSON_LIMIT)
    except FileLimitError as error:
        raise LessonError(f"{path}: {error}") from None
    return parse_lesson(text, str(path))


def load_lessons(folder: Path = LESSONS_FOLDER) -> list[tuple[str, Lesson]]:
    """Every lesson in ``folder``, as (file stem, lesson), in file-name order."""
    return [(path.stem, load_lesson(path)) for path in sorted(folder.glob("*.json"))]
