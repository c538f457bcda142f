"""``main.py lessons``: list the lessons, or check every claim they make (``--check``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from engine.lessons.claims import check_lesson
from engine.lessons.lesson import LESSONS_FOLDER, LessonError, load_lessons


def lessons_command(check: bool, folder: Path = LESSONS_FOLDER, stdout: TextIO | None = None,
                    stderr: TextIO | None = None) -> int:
    """Exit status: 0 when every claim holds (or when listing), 1 when one does not, 2
    for a lesson file that cannot be read."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    try:
        lessons = load_lessons(folder)
    except LessonError as error:
        print(f"error: {error}", file=stderr)
        return 2
    if not lessons:
        print(f"error: no lessons in {folder}", file=stderr)
        return 2
    failed = 0
    for stem, lesson in lessons:
        print(f"{stem}: {lesson.title}", file=stdout)
        if not check:
            continue
        for result in check_lesson(lesson):
            print(f"  {result.line()}", file=stdout)
            failed += not result.passed
    if check:
        total = sum(len(lesson.claims) for _, lesson in lessons)
        print(f"{total - failed} of {total} claims hold", file=stdout)
    return 1 if failed else 0
