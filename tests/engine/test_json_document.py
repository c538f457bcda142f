"""Sessions and sweep files refuse a bad document the same way, each with its own error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine.data.session import SessionError, parse_session
from engine.sweeps.spec import SweepError, parse_sweep

PARSERS: list[tuple[Callable[[str], Any], type[Exception], str]] = [
    (parse_session, SessionError, "chainlab/1"),
    (parse_sweep, SweepError, "chainlab-sweep/1"),
]


@pytest.mark.parametrize(("parse", "error", "expected_format"), PARSERS,
                         ids=["session", "sweep"])
@pytest.mark.parametrize(("text", "path", "message"), [
    ('{"format": ', "", "invalid JSON at line 1, column 12"),
    ("[" * 100_000, "", "invalid JSON: nested too deeply"),
    ('{"seed": ' + "7" * 5001 + "}", "", "invalid JSON: Exceeds the limit"),
    ("[1, 2]", "", "is a JSON object ({...})"),
    ('{"format": "chainlab/0"}', "format", 'expected "{format}", got \'chainlab/0\''),
], ids=["truncated", "deep", "digits", "array", "format"])
def test_a_bad_document_is_one_message_of_the_callers_error(
        parse: Callable[[str], Any], error: type[Exception], expected_format: str,
        text: str, path: str, message: str) -> None:
    with pytest.raises(error) as raised:
        parse(text)
    assert message.replace("{format}", expected_format) in str(raised.value)
    assert raised.value.path == path  # type: ignore[attr-defined]
