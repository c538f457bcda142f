"""The engine runs without Qt: importing all of it loads neither PySide6 nor pyqtgraph."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_engine_imports_no_qt() -> None:
    modules = sorted(p.stem for p in (ROOT / "engine").glob("*.py") if p.stem != "__init__")
    code = "\n".join([*(f"import engine.{m}" for m in modules),
                      "import sys",
                      "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]",
                      "assert not bad, bad"])
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
