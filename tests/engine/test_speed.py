"""The speed report's structure: every case present, unsupported cases recorded, honest
synchronisation on cuda. No timing assertions: the suite runs on busy machines, and one
dtype beating another is a measurement, not a fact to assert."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from engine.numbers import speed
from engine.numbers.speed import OPERATIONS, SPEED_DTYPES, SpeedReport, measure_arithmetic

TINY = {"size": 4096, "matmul_size": 32, "repeats": 3, "budget_s": 0.2}


@pytest.fixture(scope="module")
def report() -> SpeedReport:
    return measure_arithmetic(**TINY)  # type: ignore[arg-type]


def test_every_case_is_present_in_order(report: SpeedReport) -> None:
    assert [(e.operation, e.dtype) for e in report.entries] == [
        (op, name) for op in OPERATIONS for name in SPEED_DTYPES]
    assert report.entry("matmul", "int8") is report.entries[len(SPEED_DTYPES)]
    with pytest.raises(KeyError):
        report.entry("divide", "int8")


def test_supported_cases_have_positive_times(report: SpeedReport) -> None:
    for e in report.entries:
        if not e.supported:  # allowed (a torch build may lack a kernel), but said why
            assert e.note
            continue
        assert 0 < e.best_s <= e.median_s
        assert math.isfinite(e.throughput)
        assert e.throughput > 0
        assert 1 <= e.repeats <= TINY["repeats"]
        largest = TINY["size"] if e.operation == "add" else TINY["matmul_size"]
        assert 1 <= e.size <= largest
        work = e.size if e.operation == "add" else 2 * e.size ** 3
        assert e.throughput == pytest.approx(work / e.median_s)
        assert e.unit == ("elements/s" if e.operation == "add" else "ops/s")
    # float32 add and matmul are supported by every torch build
    assert report.entry("add", "float32").supported
    assert report.entry("matmul", "float32").supported


def test_the_environment_is_reported(report: SpeedReport) -> None:
    assert report.device == "cpu"
    assert report.torch_version == torch.__version__
    assert report.threads == torch.get_num_threads()
    assert report.device_name.strip()
    assert report.budget_s == TINY["budget_s"]
    assert report.elapsed_s > 0


def test_an_unsupported_operation_is_recorded_not_raised(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = torch.matmul

    def picky(a: torch.Tensor, b: torch.Tensor, *, out: torch.Tensor) -> torch.Tensor:
        if a.dtype == torch.int32:
            raise RuntimeError("\"addmm\" not implemented for 'Int'\nsecond line")
        return real(a, b, out=out)

    monkeypatch.setattr(torch, "matmul", picky)
    report = measure_arithmetic(dtypes=["int32", "float32", "no_such_dtype"], **TINY)
    failed = report.entry("matmul", "int32")
    assert not failed.supported
    assert failed.note == "RuntimeError: \"addmm\" not implemented for 'Int'"
    assert math.isnan(failed.median_s)
    assert math.isnan(failed.best_s)
    assert math.isnan(failed.throughput)
    assert report.entry("add", "int32").supported
    assert report.entry("matmul", "float32").supported
    for operation in OPERATIONS:
        unknown = report.entry(operation, "no_such_dtype")
        assert not unknown.supported
        assert "no_such_dtype" in unknown.note
    table = report.table()
    assert "unsupported: RuntimeError" in table
    assert "second line" not in table


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
def test_a_missing_cuda_is_recorded_not_raised() -> None:
    report = measure_arithmetic("cuda", ["float32"], **TINY)
    assert len(report.entries) == len(OPERATIONS)
    assert not any(e.supported for e in report.entries)
    assert all(e.note for e in report.entries)
    assert report.device_name.startswith("unavailable")


def test_cuda_timings_are_bracketed_by_synchronize(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: events.append("sync"))
    speed._time_once(lambda: events.append("run"), "cuda:0")
    assert events == ["sync", "run", "sync"]
    events.clear()
    speed._time_once(lambda: events.append("run"), "cpu")
    assert events == ["run"]


def test_a_case_too_slow_for_its_share_runs_smaller() -> None:
    # with no time at all, every case falls back to its probe size and says so
    report = measure_arithmetic(dtypes=["float32"], size=1 << 16, matmul_size=128,
                                repeats=2, budget_s=0.0)
    add, matmul = report.entry("add", "float32"), report.entry("matmul", "float32")
    assert add.size == speed._PROBE["add"]
    assert matmul.size == speed._PROBE["matmul"]
    assert add.note.startswith("reduced from 65536")
    assert matmul.note.startswith("reduced from 128")
    assert add.repeats == matmul.repeats == 1


def test_one_slow_probe_call_does_not_shrink_the_measurement(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The first measurement of bfloat16 matmul ran at 128 x 128 instead of 512: its one
    timed probe call had met a waking thread pool."""
    calls = iter([1.0])  # the first timed call takes a second, the rest are quick
    quick = speed._time_once

    def timed(run, device):  # type: ignore[no-untyped-def]
        slow = next(calls, None)
        return quick(run, device) if slow is None else slow

    monkeypatch.setattr(speed, "_time_once", timed)
    report = measure_arithmetic(dtypes=["float32"], size=1 << 16, matmul_size=128,
                                repeats=2, budget_s=0.5)
    assert report.entry("add", "float32").size == 1 << 16
    assert report.entry("add", "float32").note == ""


def test_the_table_has_a_line_per_case(report: SpeedReport) -> None:
    lines = report.table().splitlines()
    assert torch.__version__ in lines[0]
    assert len(lines) == 2 + len(report.entries)
    for line, e in zip(lines[2:], report.entries, strict=True):
        words = line.split()
        assert words[:2] == [e.operation, e.dtype]
        if e.supported:
            assert words[4] in {"ns", "µs", "ms", "s"}
            assert words[6] in {"ns", "µs", "ms", "s"}
            assert float(words[3]) > 0
            assert line.endswith(e.unit) or f"{e.unit}  (" in line


def test_the_report_is_immutable(report: SpeedReport) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.threads = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.entries[0].median_s = 0.0  # type: ignore[misc]
    assert isinstance(report.entries, tuple)


@pytest.mark.parametrize("bad", [{"size": 0}, {"matmul_size": 0}, {"repeats": 0},
                                 {"budget_s": -1.0}])
def test_impossible_settings_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        measure_arithmetic(**{**TINY, **bad})  # type: ignore[arg-type]


@pytest.mark.parametrize(("seconds", "text"), [(2.5, "2.5 s"), (0.0123, "12.3 ms"),
                                               (4.56e-6, "4.56 µs"), (7e-9, "7 ns")])
def test_times_read_in_their_unit(seconds: float, text: str) -> None:
    assert speed._seconds(seconds) == text
