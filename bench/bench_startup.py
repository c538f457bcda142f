"""Launch-to-first-paint of the app versus the time just to ``import torch``, in one run.

    .venv/bin/python bench/bench_startup.py

Uses a real X server (Xvfb) when one is installed, else Qt's offscreen platform. Each
figure is the median of five fresh processes, interleaved; the target is first paint
below the import time of torch.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 5


def time_import_torch() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - start


def time_first_paint(env: dict[str, str]) -> tuple[float, float]:
    """(first paint, fully ready) in seconds since the process started, as the app reports."""
    app = subprocess.Popen([sys.executable, str(ROOT / "main.py")], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, env=env)
    figures: dict[str, float] = {}
    try:
        for line in app.stdout:  # type: ignore[union-attr]
            key, _, value = line.partition(" ")
            figures[key] = float(value)
            if key == "ready-seconds":
                break
    finally:
        app.terminate()
        app.wait(20)
    return figures["first-paint-seconds"], figures["ready-seconds"]


def main() -> None:
    env = {**os.environ, "CHAINLAB_REPORT_STARTUP": "1",
           "CHAINLAB_SETTINGS": str(Path(tempfile.mkdtemp()) / "s.ini")}
    server = None
    if shutil.which("Xvfb"):
        display = ":77"
        server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24"],
                                  stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        platform = "Xvfb (xcb)"
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
        platform = "offscreen"
    try:
        time_import_torch()  # warm the file cache for both
        time_first_paint(env)
        paints, readies, imports = [], [], []
        for _ in range(RUNS):
            paint, ready = time_first_paint(env)
            paints.append(paint)
            readies.append(ready)
            imports.append(time_import_torch())
    finally:
        if server is not None:
            server.terminate()
    paint, ready, torch_import = (statistics.median(v) for v in (paints, readies, imports))
    print(f"platform: {platform}; median of {RUNS} fresh processes each")
    print(f"python -c 'import torch'        : {torch_import:6.3f} s")
    print(f"app launch → first painted window: {paint:6.3f} s   "
          f"ratio {paint / torch_import:.2f} (target < 1)")
    print(f"app launch → full window ready   : {ready:6.3f} s")


if __name__ == "__main__":
    main()
