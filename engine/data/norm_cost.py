"""What each normalisation costs: the reductions it needs, and measured times.

:data:`NORM_COSTS` says, per kind, which statistics one forward pass reduces the data to
and over which axis. :func:`measure_norm_cost` times the engine's :class:`Norm` (forward,
and forward + its hand-written backward) against torch's own module
(``nn.BatchNorm1d``, ``nn.LayerNorm``, ``nn.RMSNorm``, ``F.normalize(p=1/2)``; forward
under ``no_grad``, and forward + autograd backward) in one run, interleaved, so the two
share whatever else the machine is doing. Measured, never asserted: compare within one
report.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.core.layers import Norm
from engine.core.specs import NORM_KINDS
from engine.data.norm_axis import make_norm


@dataclass(frozen=True)
class NormCost:
    """The work of one forward pass of a norm kind on a (batch, features) tensor."""

    kind: str
    axis: str  # what one statistic is reduced over
    reductions: tuple[str, ...]  # the statistics, in the order they are computed
    passes: int  # reading passes over the data (reductions, then the normalising pass)
    note: str

    @property
    def reduction_count(self) -> int:
        return len(self.reductions)


NORM_COSTS: dict[str, NormCost] = {
    "batch": NormCost("batch", "the batch (per feature)", ("mean", "variance"), 3,
                      "two reductions over the batch axis; training also updates the "
                      "running statistics"),
    "layer": NormCost("layer", "the features (per sample)", ("mean", "variance"), 3,
                      "mean, then variance about it: two reductions per sample"),
    "rms": NormCost("rms", "the features (per sample)", ("mean of x²",), 2,
                    "one reduction: no mean is subtracted"),
    "l1": NormCost("l1", "the features (per sample)", ("sum of |x|",), 2,
                   "one norm per sample, no affine parameters"),
    "l2": NormCost("l2", "the features (per sample)", ("sum of x²",), 2,
                   "one norm per sample, no affine parameters"),
}


@dataclass(frozen=True)
class NormTiming:
    """Median (and best) seconds per call of the engine's and torch's norm of one kind."""

    kind: str
    batch: int
    width: int
    torch_name: str
    engine_forward_s: float
    engine_backward_s: float  # forward + backward
    torch_forward_s: float
    torch_backward_s: float
    # the fastest call of each case (engine fwd, engine f+b, torch fwd, torch f+b): the
    # least disturbed by other processes on a busy machine
    best_s: tuple[float, float, float, float]
    repeats: int

    @property
    def forward_ratio(self) -> float:
        return self.engine_forward_s / self.torch_forward_s

    @property
    def backward_ratio(self) -> float:
        return self.engine_backward_s / self.torch_backward_s

    @property
    def best_ratios(self) -> tuple[float, float]:
        """(forward, forward + backward) engine / torch from the fastest calls."""
        best = self.best_s
        return best[0] / best[2], best[1] / best[3]


@dataclass(frozen=True)
class CostReport:
    timings: tuple[NormTiming, ...]
    device: str
    device_name: str
    threads: int
    torch_version: str
    dtype: str
    budget_s: float
    elapsed_s: float


MIN_REPEATS = 5
TORCH_NAMES = {"batch": "nn.BatchNorm1d", "layer": "nn.LayerNorm", "rms": "nn.RMSNorm",
               "l1": "F.normalize(p=1)", "l2": "F.normalize(p=2)"}


def torch_norm(layer: Norm, dtype: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
    """torch's own module (or function) for the engine's ``layer``, same eps, training mode."""
    kind, width = layer.kind, layer.features
    if kind == "batch":
        return torch.nn.BatchNorm1d(width, eps=layer.eps, momentum=layer.momentum).to(dtype)
    if kind == "layer":
        return torch.nn.LayerNorm(width, eps=layer.eps).to(dtype)
    if kind == "rms":
        return torch.nn.RMSNorm(width, eps=layer.eps).to(dtype)
    p = 1.0 if kind == "l1" else 2.0
    return lambda x: F.normalize(x, p=p, dim=-1, eps=layer.eps)


def _seconds(fn: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def measure_norm_cost(kind: str, batch: int, width: int, repeats: int = 50,
                      budget_s: float = 1.0, dtype: torch.dtype = torch.float32,
                      seed: int = 0) -> NormTiming:
    """Time the engine's ``kind`` norm and torch's on one (batch, width) input.

    After a warm-up call, a probe estimates the cost; then up to ``repeats`` calls of each
    of the four cases (at least ``MIN_REPEATS``, fewer than ``repeats`` when they would
    exceed ``budget_s``), one of each in turn.
    """
    if kind not in NORM_KINDS:
        raise ValueError(f"unknown norm kind {kind!r}")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, width, generator=generator, dtype=dtype)  # (batch, width)
    grad_out = torch.randn(batch, width, generator=generator, dtype=dtype)
    layer = make_norm(kind, width, dtype)
    module = torch_norm(layer, dtype)
    leaf = x.clone().requires_grad_(True)

    def engine_forward() -> None:
        layer.forward(x, training=True)

    def engine_backward() -> None:
        _, context = layer.forward(x, training=True)
        layer.backward(context, grad_out)

    def torch_forward() -> None:
        with torch.no_grad():
            module(x)

    def torch_backward() -> None:
        leaf.grad = None
        module(leaf).backward(grad_out)

    cases = (engine_forward, engine_backward, torch_forward, torch_backward)
    for case in cases:  # warm-up: first calls allocate and pick kernels
        case()
    probe = sum(min(_seconds(case, 3)) for case in cases)
    count = max(MIN_REPEATS, min(repeats, int(budget_s / max(probe, 1e-9))))
    times: list[list[float]] = [[] for _ in cases]
    for _ in range(count):  # one call of each in turn: a busy moment hits all four alike
        for spent, case in zip(times, cases, strict=True):
            spent.extend(_seconds(case, 1))
    medians = [statistics.median(t) for t in times]
    return NormTiming(
        kind=kind, batch=batch, width=width, torch_name=TORCH_NAMES[kind],
        engine_forward_s=medians[0], engine_backward_s=medians[1],
        torch_forward_s=medians[2], torch_backward_s=medians[3],
        best_s=(min(times[0]), min(times[1]), min(times[2]), min(times[3])), repeats=count)


def measure_all(batch: int, width: int, repeats: int = 50, budget_s: float = 2.5,
                dtype: torch.dtype = torch.float32) -> CostReport:
    """:func:`measure_norm_cost` for every kind, the budget shared equally."""
    start = time.perf_counter()
    timings = tuple(measure_norm_cost(kind, batch, width, repeats,
                                      budget_s / len(NORM_KINDS), dtype)
                    for kind in NORM_KINDS)
    return CostReport(timings=timings, device="cpu",
                      device_name=platform.processor() or platform.machine(),
                      threads=torch.get_num_threads(),
                      torch_version=torch.__version__, dtype=str(dtype).replace("torch.", ""),
                      budget_s=budget_s,
                      elapsed_s=time.perf_counter() - start)
