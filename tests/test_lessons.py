"""Every lesson's claims hold in the engine; a false claim is reported, not hidden; bad
lesson files are refused by name; ``main.py lessons --check`` runs the same checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.lessons.claims import check_claim, check_lesson
from engine.lessons.command import lessons_command
from engine.lessons.lesson import LessonError, load_lessons, parse_lesson

ROOT = Path(__file__).resolve().parents[1]
LESSONS = load_lessons()


def test_the_lessons_cover_the_issue() -> None:
    titles = " ".join(lesson.title.lower() for _, lesson in LESSONS)
    for topic in ("vanishing", "relu", "seed example", "more than its input", "initialisation",
                  "chain rule", "sgd", "grow", "covariate", "residual", "hash", "evolution",
                  "4-bit grid"):
        assert topic in titles, topic


@pytest.mark.parametrize(("stem", "lesson"), LESSONS, ids=[stem for stem, _ in LESSONS])
def test_every_claim_of_every_lesson_holds(stem: str, lesson) -> None:
    failures = [result.line() for result in check_lesson(lesson) if not result.passed]
    assert not failures, "\n".join(failures)


def seed_lesson(**claim: object) -> dict:
    raw = json.loads((ROOT / "resources" / "lessons" / "03_seed_example.json").read_text())
    raw["claims"] = [{"says": "a claim", **claim}]
    return raw


@pytest.mark.parametrize("claim", [
    {"quantity": "pass", "what": "output", "layer": 1, "equals": 0.8, "digits": 5},  # the myth
    {"quantity": "derivative_max", "activation": "sigmoid", "equals": 0.5, "digits": 3},
    {"quantity": "float", "format": "float32", "value": "0.1", "equals_text": "0.1"},
    {"quantity": "pass", "what": "grad_weight", "layer": 7, "above": 0},  # no such layer
])
def test_a_false_or_impossible_claim_fails(claim: dict) -> None:
    lesson = parse_lesson(json.dumps(seed_lesson(**claim)))
    (result,) = check_lesson(lesson)
    assert not result.passed
    assert result.line().startswith("FAIL")


def test_a_claim_with_its_own_task_runs_that_task_on_the_same_chain() -> None:
    """Lesson 13's GA claim: the session runs OpenES, the claim's task the GA; each run is
    its own (a GA claim that said OpenES's number would fail)."""
    stem, lesson = next((s, les) for s, les in LESSONS if s.startswith("13_"))
    es_claim, ga_claim = lesson.claims[0], lesson.claims[1]
    assert lesson.session.task.algorithm == "openes"
    assert ga_claim.task is not None
    assert ga_claim.task.algorithm == "ga"
    cache: dict = {}
    es = check_claim(lesson.session, es_claim, cache)
    ga = check_claim(lesson.session, ga_claim, cache)
    assert es.passed, stem
    assert ga.passed, stem
    assert ga.value > es.value
    as_es = ga_claim.model_copy(update={"task": None})
    assert not check_claim(lesson.session, as_es, cache).passed


def test_digits_compare_significant_digits() -> None:
    lesson = parse_lesson(json.dumps(seed_lesson(
        quantity="pass", what="output", layer=1, equals=0.99728, digits=5)))
    assert check_claim(lesson.session, lesson.claims[0]).passed
    wrong = lesson.claims[0].model_copy(update={"equals": 0.99729})
    assert not check_claim(lesson.session, wrong).passed


@pytest.mark.parametrize(("change", "message"), [
    ({"claims": []}, "claims"),
    ({"page": "nowhere"}, "page"),
    ({"claims": [{"says": "x", "quantity": "pass"}]}, "equals, equals_text, below or above"),
    ({"session": {"format": "chainlab/1", "network": {"input_size": 2, "layers": []},
                  "data": {"inputs": [[1.0]], "targets": [1.0]}}}, "session."),
])
def test_bad_lesson_files_are_refused_by_field(change: dict, message: str) -> None:
    raw = {**seed_lesson(quantity="pass", what="output", layer=1, above=0), **change}
    with pytest.raises(LessonError, match=message):
        parse_lesson(json.dumps(raw), "bad.json")


def test_check_command_reports_and_fails_on_a_false_claim(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.json").write_text(json.dumps(seed_lesson(
        quantity="pass", what="output", layer=1, equals=0.8, digits=5)))
    assert lessons_command(check=True, folder=tmp_path) == 1
    out = capsys.readouterr().out
    assert "FAIL a claim" in out
    assert "0 of 1 claims hold" in out
    (tmp_path / "b.json").write_text("{")
    assert lessons_command(check=True, folder=tmp_path) == 2


def test_main_lessons_check_runs_every_claim() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "lessons", "--check"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    total = sum(len(lesson.claims) for _, lesson in LESSONS)
    assert f"{total} of {total} claims hold" in result.stdout
