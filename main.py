"""Chain Lab's entry point: parse the command line, then open the window or run headless."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

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
  sweep SWEEP.json --out DIR   run every cell of a parameter sweep (chainlab-sweep/1)
        [--workers N]          in N processes (or as Ray tasks with --ray auto|ADDRESS);
                               writes DIR/runs/<id>/, DIR/sweep.csv;
                               a rerun skips finished cells (exit 1 if a cell failed)
  schema                       print the session file's JSON Schema
  float VALUE [--format NAME]  how VALUE is stored in a number format (default
                               float32): bits, fields, exact stored value, error,
                               neighbours, as one JSON object (exit 2 on bad input)
        --bits 0x3dcccccd      ...decode a bit pattern instead of a VALUE
  lessons [--check]            list the guided lessons; --check evaluates every
                               claim they make with the engine (exit 1 if one fails)
  (none) [SESSION.json]        open the desktop app
         --screenshot FILE     ...render the window to FILE (PNG) and exit

examples:
  ./run-app
  ./run-app examples/seed.json
  ./run-app run examples/spiral_train.json --out out/spiral
  ./run-app --screenshot shot.png examples/deep_tanh.json
  ./run-app float 0.1 --format float16
  ./run-app float --bits 0x7f --format float8_e4m3fn
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="main.py", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("session", nargs="?", help="session file to open in the app")
    parser.add_argument("--screenshot", metavar="FILE",
                        help="open the window, save a PNG of it to FILE, then exit")
    return parser


class OneLineParser(argparse.ArgumentParser):
    """Command-line errors as one line naming the problem, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def build_run_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="main.py run", description="Run a session file headless and write its results.")
    parser.add_argument("session", help="session file (JSON, format chainlab/1)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for result.json, CSV and PNG files (created if "
                        "missing; a previous run's folder is replaced as a whole)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--max-memory", metavar="SIZE", type=_size,
                        help="refuse runs estimated to need more than SIZE (e.g. 6G, 500M; "
                        "default: the memory available)")
    parser.add_argument("--all-rows", action="store_true",
                        help="list every sample's per-layer values in result.json (default: "
                        "the first 1000)")
    parser.add_argument("--ray", metavar="auto|ADDRESS",
                        help="run an island evolution's islands (task.islands > 1) as Ray "
                        "actors: 'auto' joins the cluster RAY_ADDRESS names or starts a local "
                        "one, HOST:PORT joins a running cluster; the history is the same as "
                        "without --ray")
    return parser


def build_float_parser() -> argparse.ArgumentParser:
    from engine.numbers.formats import FORMATS

    parser = OneLineParser(
        prog="main.py float",
        description="How a value is stored in a number format, exactly, as JSON.")
    parser.add_argument("value", nargs="?", metavar="VALUE",
                        help="number to encode: 0.1, -3.4e38, 1e-45, 0x1.8p3, inf, nan, "
                        "-0, integers of up to 5000 digits (leave out with --bits)")
    parser.add_argument("--format", default="float32", metavar="NAME",
                        help=f"one of {', '.join(FORMATS)} (default: float32)")
    parser.add_argument("--bits", metavar="PATTERN",
                        help="decode this bit pattern (0x..., 0b... or decimal) instead")
    parser.add_argument("--alpha", metavar="A", help="ga4's scale (default 1)")
    return parser


# "-3.4e38", "-inf", "-0x1p3" would read as options; after "--" they are VALUE
_NEGATIVE_VALUE = re.compile(r"-(\d|\.\d|inf|nan|0x)", re.IGNORECASE)


def run_float(argv: list[str]) -> int:
    if "--" not in argv:
        values = [arg for arg in argv if _NEGATIVE_VALUE.match(arg)]
        argv = [arg for arg in argv if arg not in values] + (["--", *values] if values else [])
    args = build_float_parser().parse_args(argv)
    from engine.numbers.cli import float_command

    return float_command(args.value, args.format, args.bits, args.alpha)


def _size(text: str) -> int:
    from engine.headless.budget import parse_size

    try:
        return parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 6G, 500M)") from None


def run_headless(argv: list[str]) -> int:
    args = build_run_parser().parse_args(argv)
    from engine.headless.command import RunOptions, run_command

    options = RunOptions(out=args.out, make_renderer=None if args.no_plots else _png_renderer,
                         quiet=args.quiet, max_memory=args.max_memory,
                         all_rows=args.all_rows, ray=args.ray)
    return run_command(Path(args.session), options)


_QT_APPLICATION: list[object] = []  # keeps the headless renderer's QApplication alive


def _png_renderer() -> PlotRenderer:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from gui.plot_specs import render_plot_png

    _QT_APPLICATION.append(QApplication.instance() or QApplication(["chainlab-run"]))
    return render_plot_png


def run_sweep(argv: list[str]) -> int:
    parser = OneLineParser(prog="main.py sweep",
                           description="Run a parameter sweep's cells headless.")
    parser.add_argument("sweep", help="sweep file (JSON, format chainlab-sweep/1)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for runs/<id>/ and sweep.csv (a rerun resumes it)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="worker processes (default: the number of CPUs); with --ray, "
                             "at most N cells in flight (default: as Ray's CPUs allow)")
    parser.add_argument("--ray", metavar="auto|ADDRESS",
                        help="run the cells as Ray tasks: 'auto' joins the local cluster "
                             "or starts one, HOST:PORT joins a running cluster; results "
                             "come back to DIR")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    from engine.sweeps.command import SweepOptions, sweep_command

    options = SweepOptions(out=args.out, workers=args.workers, quiet=args.quiet, ray=args.ray,
                           make_renderer=None if args.no_plots else _png_renderer)
    return sweep_command(Path(args.sweep), options)


def run_lessons(argv: list[str]) -> int:
    parser = OneLineParser(prog="main.py lessons",
                           description="List the guided lessons, or check their claims.")
    parser.add_argument("--check", action="store_true",
                        help="evaluate every claim of every lesson with the engine "
                        "(exit 1 if one does not hold)")
    args = parser.parse_args(argv)
    from engine.lessons.command import lessons_command

    return lessons_command(args.check)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "run":
        return run_headless(argv[1:])
    if argv and argv[0] == "float":
        return run_float(argv[1:])
    if argv and argv[0] == "sweep":
        return run_sweep(argv[1:])
    if argv and argv[0] == "lessons":
        return run_lessons(argv[1:])
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
