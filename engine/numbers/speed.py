"""Are ints faster? Element-wise add and matrix product timed per dtype: measured, not asserted.

Each case (operation, dtype) gets an equal share of what is left of ``budget_s``. A small
probe first checks that torch supports the case here (an error is recorded as
unsupported with its text, never raised) and estimates its cost, so a slow case (integer
matmul has no BLAS on CPU; float16 can be emulated) runs at a smaller size instead of
eating the whole budget. Then one warm-up call and up to ``repeats`` timed calls, of
which the median is reported. Results go to preallocated outputs (``out=``) so the
allocator is not timed. On cuda every timing is bracketed by ``torch.cuda.synchronize``:
kernels run asynchronously, and without it only the launch would be timed.

On the project's 2-core machine (AMD EPYC, torch 2.13 CPU) the default run takes 0.7-1 s
when the machine is quiet and about 2.2 s when other processes keep its cores busy; then
two-thread kernels wait for a core (~8 ms a call) and the medians mean little: read
``best_s``, and compare dtypes only within one report.
"""

from __future__ import annotations

import math
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

OPERATIONS = ("add", "matmul")
SPEED_DTYPES = ("int8", "int32", "float16", "bfloat16", "float32", "float64")
_PROBE = {"add": 1 << 14, "matmul": 64}
PROBE_CALLS = 3  # timed probe calls; the fastest sizes the measurement
_POWER = {"add": 1, "matmul": 3}  # cost grows as size**power


@dataclass(frozen=True)
class SpeedEntry:
    """One case. size: elements per vector (add) or n of the n x n matrices (matmul).

    throughput: elements/s for add; operations/s for matmul, counting 2 n**3 (a multiply
    and an add per term). The times and throughput are nan when unsupported.
    """

    operation: str
    dtype: str
    size: int
    median_s: float
    best_s: float  # the fastest timed call: the least disturbed by other processes
    throughput: float  # from median_s
    unit: str
    repeats: int  # timed calls
    supported: bool
    note: str  # the error when unsupported; else why the size was reduced, or ""


@dataclass(frozen=True)
class SpeedReport:
    """Timings of every (operation, dtype) and where they were measured."""

    entries: tuple[SpeedEntry, ...]  # operation-major: every dtype's add first
    device: str
    device_name: str
    torch_version: str
    threads: int
    budget_s: float
    elapsed_s: float

    def entry(self, operation: str, dtype: str) -> SpeedEntry:
        for entry in self.entries:
            if entry.operation == operation and entry.dtype == dtype:
                return entry
        raise KeyError(f"no entry for {operation}/{dtype}")

    def table(self) -> str:
        """A short plain-text table, one line per case."""
        lines = [f"{self.device_name} ({self.device}, {self.threads} threads), "
                 f"torch {self.torch_version}, {self.elapsed_s:.1f} s",
                 f"{'operation':<10}{'dtype':<10}{'size':>12}{'median':>12}{'best':>12}"
                 "  throughput (median)"]
        for e in self.entries:
            size = f"{e.size}x{e.size}" if e.operation == "matmul" else str(e.size)
            if e.supported:
                line = (f"{e.operation:<10}{e.dtype:<10}{size:>12}{_seconds(e.median_s):>12}"
                        f"{_seconds(e.best_s):>12}  {_si(e.throughput)} {e.unit}")
                lines.append(line + (f"  ({e.note})" if e.note else ""))
            else:
                lines.append(f"{e.operation:<10}{e.dtype:<10}{'':>36}  unsupported: {e.note}")
        return "\n".join(lines)


def measure_arithmetic(device: str = "cpu", dtypes: Sequence[str] = SPEED_DTYPES, *,
                       size: int = 1 << 22, matmul_size: int = 512, repeats: int = 7,
                       budget_s: float = 2.5) -> SpeedReport:
    """Time element-wise add and matrix product for each dtype on one device.

    Parameters
    ----------
    device : str
        A torch device: "cpu", "cuda", "cuda:1".
    dtypes : sequence of str
        torch dtype names ("int8", "bfloat16", ...).
    size : int
        Elements per vector for add (an upper bound: see the module docstring).
    matmul_size : int
        n of the n x n matrices for matmul (an upper bound).
    repeats : int
        Most timed calls per case.
    budget_s : float
        Time for the whole measurement, shared among the cases.

    Returns
    -------
    SpeedReport
        Shape: len(OPERATIONS) * len(dtypes) entries, add's first.
    """
    if min(size, matmul_size, repeats) < 1 or not budget_s >= 0:
        raise ValueError("size, matmul_size and repeats must be at least 1, budget_s >= 0")
    start = time.perf_counter()
    cases = [(op, name) for op in OPERATIONS for name in dtypes]
    entries = []
    for index, (operation, name) in enumerate(cases):
        left = budget_s - (time.perf_counter() - start)
        share = max(left, 0.0) / (len(cases) - index)
        largest = size if operation == "add" else matmul_size
        try:
            entries.append(_measure(operation, name, device, largest, repeats, share))
        except Exception as error:  # torch raises RuntimeError, TypeError, AssertionError...
            entries.append(SpeedEntry(operation, name, largest, math.nan, math.nan, math.nan,
                                      _unit(operation), 0, False, _first_line(error)))
    return SpeedReport(tuple(entries), device, _device_name(device), torch.__version__,
                       torch.get_num_threads(), budget_s, time.perf_counter() - start)


def _measure(operation: str, name: str, device: str, largest: int, repeats: int,
             share: float) -> SpeedEntry:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"{name!r} is not a torch dtype")
    probe = min(_PROBE[operation], largest)
    run = _prepare(operation, dtype, device, probe)
    run()  # the first call may load kernels: not a fair probe
    # the best of three: one slow call (a thread pool waking, a kernel JIT-compiled on
    # its second use) shrank the first measurement of bfloat16 matmul to 128 x 128
    probe_s = min(_time_once(run, device) for _ in range(PROBE_CALLS))
    # the largest size (halving from `largest`) whose warm-up and repeats fit the share
    chosen = largest
    while chosen > probe and _estimate(probe_s, chosen / probe, operation) * (repeats + 1) > share:
        chosen //= 2
    chosen = max(chosen, probe)
    note = f"reduced from {largest} to fit {share:.2f} s" if chosen < largest else ""
    if chosen != probe:
        run = _prepare(operation, dtype, device, chosen)
        run()
    deadline = time.perf_counter() + share
    times = [_time_once(run, device)]
    while len(times) < repeats and time.perf_counter() + statistics.median(times) < deadline:
        times.append(_time_once(run, device))
    median = statistics.median(times)
    work = chosen if operation == "add" else 2 * chosen ** 3
    return SpeedEntry(operation, name, chosen, median, min(times), work / median,
                      _unit(operation), len(times), True, note)


def _prepare(operation: str, dtype: torch.dtype, device: str, size: int) -> Callable[[], None]:
    """Inputs, an output and the call that fills it. Values -3..3 (scaled by 1/4 for
    floats): exact in every dtype, never subnormal (which can be slow), small products."""
    shape = (size,) if operation == "add" else (size, size)
    pattern = (torch.arange(math.prod(shape)).reshape(shape) % 7 - 3).to(torch.float64)
    scale = 1.0 if not dtype.is_floating_point else 0.25
    a = (pattern * scale).to(dtype=dtype, device=device)
    b = (pattern.flip(-1) * scale).to(dtype=dtype, device=device)
    out = torch.empty(shape, dtype=dtype, device=device)
    call = torch.add if operation == "add" else torch.matmul

    def run() -> None:
        call(a, b, out=out)

    return run


def _estimate(probe_s: float, ratio: float, operation: str) -> float:
    return probe_s * ratio ** _POWER[operation]


def _time_once(run: Callable[[], None], device: str) -> float:
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize(device)
    begin = time.perf_counter()
    run()
    if cuda:
        torch.cuda.synchronize(device)
    return time.perf_counter() - begin


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        try:
            return torch.cuda.get_device_name(device)
        except Exception as error:  # no CUDA build, no driver, no such device
            return f"unavailable ({_first_line(error)})"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux
    return platform.processor() or platform.machine() or "unknown CPU"


def _unit(operation: str) -> str:
    return "elements/s" if operation == "add" else "ops/s"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200] if text else ''}"


def _seconds(value: float) -> str:
    for scale, suffix in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if value >= scale:
            return f"{value / scale:.3g} {suffix}"
    return f"{value / 1e-9:.3g} ns"


def _si(value: float) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g} {prefix}"
    return f"{value:.3g}"
