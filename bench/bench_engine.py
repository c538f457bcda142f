"""Engine forward+backward versus plain torch.nn.Sequential, measured in one run.

    .venv/bin/python bench/bench_engine.py

Chain: 64 layers (32 × linear(64) → tanh), float32, batch 256. Prints the median time of
each and the ratios; targets: full pass ≤ 1.3×, layer-by-layer stepping ≤ 2×.
The machines are shared and noisy, so the two are interleaved and only ratios count.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.core.chain import Chain
from engine.core.specs import ActivationSpec, LinearSpec, NetworkSpec
from engine.core.stepper import Pass
from engine.core.torch_export import to_torch_sequential

WIDTH, BLOCKS, BATCH, REPEATS = 64, 32, 256, 300


def median_seconds(fn, repeats: int = REPEATS) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    layers = []
    for _ in range(BLOCKS):
        layers += [LinearSpec(out_features=WIDTH), ActivationSpec(kind="tanh")]
    chain = Chain(NetworkSpec(input_size=WIDTH, layers=layers), "float32",
                  torch.Generator().manual_seed(0))
    model = to_torch_sequential(chain)
    x = torch.randn(BATCH, WIDTH, generator=torch.Generator().manual_seed(1))
    y = torch.randn(BATCH, WIDTH, generator=torch.Generator().manual_seed(2))

    def engine_full() -> None:
        Pass(chain, x, y, "mse").run()

    def engine_stepped() -> None:
        pass_ = Pass(chain, x, y, "mse")
        while pass_.phase == "forward":
            pass_.step_forward()
        while pass_.phase == "backward":
            pass_.step_backward()
        pass_.first_nonfinite()

    def torch_full() -> None:
        model.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(model(x), y).backward()

    for fn in (engine_full, engine_stepped, torch_full):  # warm up
        median_seconds(fn, 20)
    rounds = [(median_seconds(torch_full, REPEATS // 3), median_seconds(engine_full, REPEATS // 3),
               median_seconds(engine_stepped, REPEATS // 3)) for _ in range(3)]
    torch_time = statistics.median(r[0] for r in rounds)
    full_time = statistics.median(r[1] for r in rounds)
    stepped_time = statistics.median(r[2] for r in rounds)
    print(f"chain: {2 * BLOCKS} layers, width {WIDTH}, batch {BATCH}, float32, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"torch.nn.Sequential forward+backward : {torch_time * 1e3:8.3f} ms")
    print(f"engine full pass                     : {full_time * 1e3:8.3f} ms   "
          f"ratio {full_time / torch_time:.2f}x (target <= 1.3x)")
    print(f"engine layer-by-layer stepping       : {stepped_time * 1e3:8.3f} ms   "
          f"ratio {stepped_time / torch_time:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
