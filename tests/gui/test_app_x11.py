"""End to end: the real app in a real X server (Xvfb), a screenshot, a clean close.

Also the ``--screenshot`` command line, which renders offscreen.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]


def read_xwd(data: bytes) -> np.ndarray:
    """Pixels of a 24/32-bit ZPixmap XWD dump (what ``xwd -root`` writes) as (h, w) ints."""
    header = struct.unpack(">25I", data[:100])
    header_size, width, height = header[0], header[4], header[5]
    bits_per_pixel, bytes_per_line, ncolors = header[11], header[12], header[19]
    byte_order = header[7]
    assert bits_per_pixel == 32, bits_per_pixel
    offset = header_size + ncolors * 12
    dtype = "<u4" if byte_order == 0 else ">u4"
    rows = np.frombuffer(data[offset:offset + bytes_per_line * height], dtype=np.uint8)
    rows = rows.reshape(height, bytes_per_line)[:, :width * 4]
    return rows.copy().view(dtype).reshape(height, width) & 0xFFFFFF


def save_png(pixels: np.ndarray, path: Path) -> None:
    height, width = pixels.shape
    argb = (pixels | 0xFF000000).astype(np.uint32)
    image = QImage(argb.tobytes(), width, height, width * 4, QImage.Format.Format_ARGB32)
    assert image.save(str(path))


@pytest.fixture
def xvfb_display():
    if not shutil.which("Xvfb") or not shutil.which("xwd"):
        pytest.skip("Xvfb/xwd not installed (./run-tests installs them when run as root)")
    display = f":{90 + os.getpid() % 100}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten",
                               "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket = Path(f"/tmp/.X11-unix/X{display[1:]}")
    deadline = time.monotonic() + 10
    while not socket.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not socket.exists():
        server.kill()
        pytest.fail("Xvfb did not start")
    yield display
    server.terminate()
    server.wait(10)


def screen(display: str) -> np.ndarray:
    dump = subprocess.run(["xwd", "-root", "-silent", "-display", display],
                          capture_output=True, check=True).stdout
    return read_xwd(dump)


def painted(pixels: np.ndarray) -> bool:
    """The window fills the screen with more than a flat loading message."""
    return np.unique(pixels).size > 50 and (pixels != pixels[0, 0]).mean() > 0.3


@pytest.mark.xvfb
def test_real_app_in_x_server(xvfb_display: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb", CHAINLAB_REPORT_STARTUP="1",
               CHAINLAB_SETTINGS=str(tmp_path / "settings.ini"))
    log = (tmp_path / "stderr.txt").open("w")
    app = subprocess.Popen([sys.executable, str(ROOT / "main.py"),
                            str(ROOT / "examples" / "deep_tanh.json")],
                           stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    reader: threading.Thread | None = None
    try:
        # a start that never reports (an error dialog waiting for OK) fails here, within
        # the minute, rather than blocking in readline forever; a thread reads the lines
        # (select on the pipe misses lines already in readline's buffer)
        arrived: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [arrived.put(line) for line in app.stdout],
                                  daemon=True)
        reader.start()
        lines = []
        deadline = time.monotonic() + 60
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = arrived.get(timeout=remaining)
            except queue.Empty:
                break
            lines.append(line)
            if line.startswith("ready-seconds"):
                break
        assert any(line.startswith("ready-seconds") for line in lines), \
            f"the window never became ready: {lines} {(tmp_path / 'stderr.txt').read_text()}"
        # wait for the painted window (a state on screen), not for a time
        pixels = screen(xvfb_display)
        deadline = time.monotonic() + 60
        while not painted(pixels) and time.monotonic() < deadline:
            time.sleep(0.2)
            pixels = screen(xvfb_display)
        save_png(pixels, tmp_path / "x11.png")
        shot_dir = os.environ.get("CHAINLAB_SCREENSHOT_DIR")
        if shot_dir:
            save_png(pixels, Path(shot_dir) / "x11-end-to-end.png")
        colours = np.unique(pixels)
        assert colours.size > 50, "the screen is blank"
        assert (pixels != pixels[0, 0]).mean() > 0.3, "the window does not fill the screen"
        app.send_signal(signal.SIGTERM)
        assert app.wait(20) == 0
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        if reader is not None:
            reader.join(10)  # it ends at the pipe's end, which the exit gave it
        app.stdout.close()
        log.close()


def test_screenshot_command(tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "CHAINLAB_SETTINGS": str(tmp_path / "s.ini")}
    subprocess.run([sys.executable, str(ROOT / "main.py"), "--screenshot", str(out),
                    str(ROOT / "examples" / "seed.json")], check=True, env=env, timeout=120,
                   capture_output=True)
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 800)  # a laptop's screen


def test_first_window_needs_no_torch() -> None:
    """The loading window is painted before torch is imported (that is what makes the
    first paint fast; bench/bench_startup.py measures it)."""
    code = ("import sys, gui.app\n"
            "assert 'torch' not in sys.modules and 'pyqtgraph' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_screenshot_of_a_bad_session_is_an_error_not_a_hang(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "chainlab/1"}')
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "CHAINLAB_SETTINGS": str(tmp_path / "s.ini")}
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "--screenshot",
                             str(tmp_path / "x.png"), str(bad)], env=env, timeout=120,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "network: required field is missing" in result.stderr
    assert not (tmp_path / "x.png").exists()
    missing = subprocess.run([sys.executable, str(ROOT / "main.py"), str(tmp_path / "no.json")],
                             env=env, timeout=60, capture_output=True, text=True)
    assert missing.returncode == 2
    assert "no such session file" in missing.stderr


def test_no_display_is_a_clear_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, str(ROOT / "main.py")], env=env, timeout=60,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "no display" in result.stderr
    missing = subprocess.run([sys.executable, str(ROOT / "main.py"), str(tmp_path / "no.json")],
                             env=env, timeout=60, capture_output=True, text=True)
    assert missing.returncode == 2
    assert "no such session file" in missing.stderr  # the first problem to fix


@pytest.mark.xvfb
@pytest.mark.parametrize("session", ["spiral_train.json", "deep_tanh.json"])
def test_every_key_control_fits_a_laptop_screen(xvfb_display: str, tmp_path: Path,
                                                session: str) -> None:
    """At 1280×800 every page's buttons, settings and plots are on screen (issue 10: the
    Training and Evolution plots showed their top half, Run/Reset scrolled away)."""
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb",
               CHAINLAB_SETTINGS=str(tmp_path / "settings.ini"))
    shots = Path(os.environ.get("CHAINLAB_SCREENSHOT_DIR", tmp_path))
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "gui" / "x11_layout_check.py"),
                             str(ROOT / "examples" / session), str(shots)],
                            capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["screen"] == [1280, 800]
    assert report["window"] == [1280, 800]
    assert report["problems"] == []
