"""How much memory a session's run needs, estimated from the session alone, before any
work: a run that cannot fit is refused with one line naming the field that makes it
large, instead of ending in an allocation traceback after minutes of work.

The estimate is an upper bound of the peak, term by term (bytes):

- parameters P (of the chain's dtype, d = 4 or 8 bytes): the weights, their gradients,
  the momentum buffers and the updated copies, ``4·P·d``;
- the dataset: a CSV file's text and table (its size, and 8 bytes per cell), the input
  and target tensors;
- one pass over a batch of B samples through layers of widths w: outputs, contexts,
  gradients and local derivatives, ``8·B·Σw·d``;
- ``result.json``: the per-layer values of the samples it lists, and the final
  parameters, as Python floats and JSON text (~60 bytes a number);
- the history: 8 bytes a step, and at most 10 000 full rows;
- the GA's population: N genomes of G 4-bit codes, one byte each, about 6·N·G for the
  codes, the next generation, the crossover and mutation masks; its losses; the
  evaluation's buffers (chunks of 2²¹ activations) and the first layer's table; all of
  it once per island; and an island run's worker processes, each with its own
  interpreter, torch and numpy (about 240 MB measured; WORKER_BASELINE each).

``--max-memory`` sets the limit; the default is the memory available to this process
(MemAvailable, and any cgroup or address-space limit below it).
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

from engine.core.specs import LinearSpec, NetworkSpec, NormSpec, walk_specs
from engine.data.files import CSV_LIMIT, FileLimitError, regular_file_size
from engine.data.session import CsvData, GeneratedData, InlineData, Session, SessionError
from engine.data.tasks import EvolveTask, TrainTask
from engine.evolution.ga import resolve_device
from engine.headless.evolve import island_workers
from engine.headless.history import MAX_ROWS

BASELINE = 400 << 20  # the interpreter, torch and numpy themselves
WORKER_BASELINE = 300 << 20  # the same in an island worker process (240 MB measured)
BYTES_PER_JSON_NUMBER = 60
GB = 1 << 30


@dataclass(frozen=True)
class Term:
    field: str  # the session field that makes this term large
    what: str
    bytes: int


@dataclass(frozen=True)
class Estimate:
    terms: tuple[Term, ...]

    @property
    def total(self) -> int:
        return BASELINE + sum(term.bytes for term in self.terms)

    def largest(self) -> Term:
        return max(self.terms, key=lambda term: term.bytes)


def widths(network: NetworkSpec) -> list[int]:
    """The output width of every layer, residual blocks' layers included."""
    width, result = network.input_size, []
    for _, spec in walk_specs(network.layers):
        if isinstance(spec, LinearSpec):
            width = spec.out_features
        result.append(width)
    return result


def estimate(session: Session, base_dir: Path, rows_shown: int | None) -> Estimate:
    network = session.network
    d = 4 if session.dtype == "float32" else 8
    layer_widths = widths(network)
    activations = sum(layer_widths) + network.input_size
    params, genome, widest, widest_at = 0, 0, 0, "network.input_size"
    width = network.input_size
    for path, spec in walk_specs(network.layers):
        if isinstance(spec, LinearSpec):
            size = width * spec.out_features + spec.out_features
            params += size
            genome += size
            if size > widest:
                widest, widest_at = size, f"{path}.out_features"
            width = spec.out_features
        elif isinstance(spec, NormSpec):
            params += 2 * width
    samples, data_bytes, data_field = _data_size(session, base_dir)
    task = session.task
    batch, batch_field = samples, data_field
    if isinstance(task, TrainTask) and 0 < task.batch_size < samples:
        batch, batch_field = task.batch_size, "task.batch_size"
    shown = samples if rows_shown is None else min(samples, rows_shown)
    terms = [
        Term(widest_at, "parameters, gradients and optimizer state", 4 * params * d),
        Term(data_field, "the dataset", data_bytes + samples * (network.input_size + 2) * d),
        Term(batch_field, "a forward and backward pass", 8 * batch * activations * d),
        Term("data.samples" if data_field != "data.path" else data_field,
             "the per-layer values result.json lists",
             3 * shown * activations * BYTES_PER_JSON_NUMBER),
        Term(widest_at, "the parameters result.json lists", 2 * params * BYTES_PER_JSON_NUMBER),
    ]
    if isinstance(task, TrainTask):
        terms.append(_history("task.steps", task.steps, 3 + 2 * len(layer_widths)))
    if isinstance(task, EvolveTask):
        # every island holds a population of its own, with its own evaluation buffers
        islands = task.islands
        each = f" ({islands} islands' together)" if islands > 1 else ""
        terms.append(Term("task.population", f"the population and its evaluation{each}",
                          islands * (6 * task.population * genome + 16 * task.population
                                     + (3 << 21) * 4 * max(1, len(layer_widths))
                                     + (1 << 23) * 8)))
        workers = island_workers(task, resolve_device(task.device)[0])
        if workers:
            terms.append(Term("task.islands", f"{workers} island worker processes",
                              workers * WORKER_BASELINE))
        terms.append(_history("task.generations", task.generations + 1, 8))
        if task.selection == "tournament":
            terms.append(Term("task.tournament_size", f"the tournaments{each}",
                              islands * task.population * task.tournament_size * 16))
    return Estimate(tuple(terms))


def _history(field: str, steps: int, columns: int) -> Term:
    return Term(field, "the history", 8 * steps + min(steps, MAX_ROWS) * columns * 40)


def _data_size(session: Session, base_dir: Path) -> tuple[int, int, str]:
    """(samples, bytes of the loaded data beyond its tensors, the field to blame)."""
    data = session.data
    if isinstance(data, GeneratedData):
        return data.samples, data.samples * 200, "data.samples"  # Python points, labels
    if isinstance(data, InlineData):
        return len(data.inputs), 0, "data.inputs"
    assert isinstance(data, CsvData)
    path = Path(data.path) if Path(data.path).is_absolute() else base_dir / data.path
    try:
        size = regular_file_size(path, CSV_LIMIT)
    except FileLimitError:
        return 0, 0, "data.path"  # reading it will say what is wrong
    rows, columns = _count_rows(path)
    return rows, 4 * size + rows * columns * 8, "data.path"


def _count_rows(path: Path) -> tuple[int, int]:
    """Lines and the first line's number of fields, read in 8 MB blocks."""
    rows, first = 0, b""
    try:
        with path.open("rb") as stream:
            while block := stream.read(8 << 20):
                if not first:
                    first = block.split(b"\n", 1)[0]
                rows += block.count(b"\n")
    except OSError:
        return 0, 0
    return rows + 1, first.count(b",") + 1


def available_memory() -> int:
    """Bytes this process may still allocate: MemAvailable, capped by a cgroup's limit
    and the address-space rlimit."""
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        cgroup_max = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        cgroup_used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if cgroup_max != "max":
            limits.append(int(cgroup_max) - cgroup_used)
    except (OSError, ValueError):
        pass
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(soft - _address_space_used())
    return max(min(limits), 0) if limits else 1 << 62


def _address_space_used() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def parse_size(text: str) -> int:
    """'6G', '500M', '2.5GB', '1000000' → bytes; ValueError otherwise."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = cleaned, ""
    if cleaned and cleaned[-1] in units:
        number, unit = cleaned[:-1], cleaned[-1]
    value = float(number)
    if not value > 0 or value == float("inf"):
        raise ValueError(text)
    return int(value * units[unit])


def check_memory(session: Session, base_dir: Path, limit: int | None,
                 rows_shown: int | None) -> Estimate:
    """Refuse (SessionError naming the largest term's field) a run that would not fit."""
    result = estimate(session, base_dir, rows_shown)
    allowed = available_memory() if limit is None else limit
    if result.total > allowed:
        largest = result.largest()
        source = "set with --max-memory" if limit is not None else \
            "available; --max-memory sets another limit"
        raise SessionError(largest.field,
                           f"the run needs about {human_size(result.total)} of memory "
                           f"({largest.what}: {human_size(largest.bytes)}); "
                           f"{human_size(allowed)} is {source}")
    return result


def human_size(size: int) -> str:
    """A size as people read one: 1.5 GB, 300 MB, 12 KB, 100 bytes."""
    for unit, name in ((GB, "GB"), (1 << 20, "MB"), (1 << 10, "KB")):
        if size >= unit:
            return f"{size / unit:.1f} {name}" if unit == GB else f"{size / unit:.0f} {name}"
    return f"{size} bytes"
