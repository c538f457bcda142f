"""Chain Lab's entry point: parse the command line, then open the window or run headless."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.headless.results import PlotRenderer

DESCRIPTION = """\
Chain Lab: build a chain of layers, step its forward and backward passes,
watch the gradients, train with SGD or evolve the weights without gradients.

With no subcommand the desktop app opens (optionally with SESSION.json)."""

EPILOG = """\
subcommands:
  run SESSION.json --out DIR   run a session headless; writes DIR/result.json,
                               CSV histories and PNG plots (exit 2 on bad input)
  schema                       print the session file's JSON Schema
  (none) [SESSION.json]        open the desktop app
         --screenshot FILE     ...render the window to FILE (PNG) and exit

examples:
  ./run-app
  ./run-app examples/seed.json
  ./run-app run examples/spiral_train.json --out out/spiral
  ./run-app --screenshot shot.png examples/deep_tanh.json
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="main.py", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("session", nargs="?", help="session file to open in the app")
    parser.add_argument("--screenshot", metavar="FILE",
                        help="open the window, save a PNG of it to FILE, then exit")
    return parser


def build_run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="main.py run", description="Run a session file headless and write its results.")
    parser.add_argument("session", help="session file (JSON, format chainlab/1)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for result.json, CSV and PNG files (created if missing)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def run_headless(argv: list[str]) -> int:
    args = build_run_parser().parse_args(argv)
    from engine.data.session import SessionError, load_session
    from engine.headless.results import write_outputs
    from engine.headless.runner import run_session

    session_path = Path(args.session)
    try:
        session = load_session(session_path)
        show_progress = not args.quiet and sys.stderr.isatty()
        output = run_session(session, session_path.parent, _progress if show_progress else None)
        renderer = None if args.no_plots else _png_renderer()
        written = write_outputs(output, Path(args.out), renderer)
    except SessionError as error:
        print(f"error: {session_path}: {error}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"wrote {len(written)} files to {args.out}", file=sys.stderr)
    return 0


def _progress(done: int, total: int) -> None:
    if done == total or done % max(1, total // 100) == 0:
        end = "\n" if done == total else ""
        print(f"\r{done}/{total}", end=end, file=sys.stderr, flush=True)


_QT_APPLICATION: list[object] = []  # keeps the headless renderer's QApplication alive


def _png_renderer() -> PlotRenderer:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from gui.plot_specs import render_plot_png

    _QT_APPLICATION.append(QApplication.instance() or QApplication(["chainlab-run"]))
    return render_plot_png


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "run":
        return run_headless(argv[1:])
    if argv and argv[0] == "schema":
        import json

        from engine.data.session import json_schema

        print(json.dumps(json_schema(), indent=2))
        return 0
    args = build_parser().parse_args(argv)
    from gui.app import launch

    return launch(args.session, args.screenshot)


if __name__ == "__main__":
    sys.exit(main())
