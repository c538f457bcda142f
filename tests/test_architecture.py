"""The layering written down in pyproject.toml's import-linter contracts, and the types.

lint-imports: the engine never imports Qt or the GUI; core <- data <- evolution <-
headless inside it; the GUI's window <- panels <- state <- runs <- run slot <- worker;
panels independent; no import cycle among siblings (a function-level import counts).
mypy: engine/, gui/ and main.py, with unused ignores reported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_import_contracts_are_kept() -> None:
    result = subprocess.run([str(BIN / "lint-imports"), "--no-cache"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert "0 broken" in result.stdout


def test_mypy_is_clean() -> None:
    result = subprocess.run([str(BIN / "mypy"), "engine", "gui", "main.py"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
