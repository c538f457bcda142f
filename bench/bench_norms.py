"""The engine's norm layers versus torch's own modules, measured in one run.

    .venv/bin/python bench/bench_norms.py [--json] [--budget 2.0]

For each norm kind (batch, layer, RMS, L1, L2) and a few batch × width sizes, the median
time of a forward pass and of forward + backward: the engine's ``Norm`` (hand-written
backward) against ``nn.BatchNorm1d``, ``nn.LayerNorm``, ``nn.RMSNorm`` and
``F.normalize(p=1/2)`` (forward under ``no_grad``, backward by autograd), float32 on the
CPU, interleaved (:func:`engine.data.norm_cost.measure_norm_cost`). The machines are
shared and noisy: only ratios within one run count. With --json the last line is one
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.core.specs import NORM_KINDS
from engine.data.norm_cost import NORM_COSTS, measure_norm_cost

SIZES = ((32, 64), (256, 256), (1024, 1024))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--budget", type=float, default=1.0,
                        help="seconds per (kind, size) case (default 1.0)")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, cpu")
    print(f"{'kind':<6}{'batch×width':>12}{'reductions':>12}  {'torch':<17}"
          f"{'fwd engine':>11}{'fwd torch':>11}{'ratio':>7}"
          f"{'f+b engine':>12}{'f+b torch':>11}{'ratio':>7}{'best ratios':>14}")
    results = []
    for batch, width in SIZES:
        for kind in NORM_KINDS:
            t = measure_norm_cost(kind, batch, width, args.repeats, args.budget)
            print(f"{kind:<6}{f'{batch}×{width}':>12}{NORM_COSTS[kind].reduction_count:>12}  "
                  f"{t.torch_name:<17}{t.engine_forward_s * 1e6:>9.1f}µs"
                  f"{t.torch_forward_s * 1e6:>9.1f}µs{t.forward_ratio:>6.2f}×"
                  f"{t.engine_backward_s * 1e6:>10.1f}µs{t.torch_backward_s * 1e6:>9.1f}µs"
                  f"{t.backward_ratio:>6.2f}×{t.best_ratios[0]:>7.2f}×"
                  f"{t.best_ratios[1]:>6.2f}×")
            results.append({
                "kind": kind, "batch": batch, "width": width, "torch": t.torch_name,
                "engine_forward_us": t.engine_forward_s * 1e6,
                "torch_forward_us": t.torch_forward_s * 1e6,
                "engine_forward_backward_us": t.engine_backward_s * 1e6,
                "torch_forward_backward_us": t.torch_backward_s * 1e6,
                "forward_ratio": t.forward_ratio, "forward_backward_ratio": t.backward_ratio,
                "best_forward_ratio": t.best_ratios[0],
                "best_forward_backward_ratio": t.best_ratios[1],
                "repeats": t.repeats})
    print("µs: median per call; ratio: engine / torch (below 1: the engine is faster); "
          "best ratios: from the fastest call of each (forward, forward+backward)")
    if args.json:
        print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                          "cases": results}))


if __name__ == "__main__":
    main()
