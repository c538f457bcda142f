"""Session files are written whole, with a normal file's permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.core.specs import seed_example
from engine.data.session import GeneratedData, Session, load_session, save_session


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_saved_session_gets_the_umask_mode_not_0600(tmp_path: Path, mask: int) -> None:
    session = Session(format="chainlab/1", network=seed_example(),
                      data=GeneratedData(dataset="seed_example", samples=1))
    previous = os.umask(mask)
    try:
        save_session(session, tmp_path / "s.json")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "s.json").stat().st_mode) == 0o666 & ~mask
    assert load_session(tmp_path / "s.json") == session
    (tmp_path / "s.json").chmod(0o640)  # a file written over keeps its mode
    save_session(session, tmp_path / "s.json")
    assert stat.S_IMODE((tmp_path / "s.json").stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]
