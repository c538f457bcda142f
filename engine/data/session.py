"""Session files: JSON that fully describes an experiment (format ``chainlab/1``).

The GUI's Open/Save and ``main.py run`` share this module. Every error names the path
of the offending field inside the JSON (``network.layers.2.out_features``) and what was
expected; docs/session-format.md documents the format, docs/session.schema.json is
generated from these models.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Discriminator, Field, Tag, ValidationError

from engine.core.specs import Frozen, LinearSpec, NetworkSpec, NormSpec, walk_specs
from engine.data.datasets import MAX_CLASSES, MULTI_CLASS
from engine.data.files import SESSION_LIMIT, FileLimitError, mode_for, read_text
from engine.data.json_document import json_object, validated
from engine.data.tasks import EvolveTask, PrecisionSpec, StepTask, TrainTask

FORMAT = "chainlab/1"


class SessionError(ValueError):
    """A session that cannot be read or built. ``path`` is the JSON path of the field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path, self.message = path, message


class InlineData(Frozen):
    inputs: list[list[float]] = Field(min_length=1)
    targets: list[float] | list[list[float]] = Field(min_length=1)


class GeneratedData(Frozen):
    dataset: Literal[
        "circle", "xor", "gaussian", "spiral", "spirals", "blobs", "plane", "multi_gaussian",
        "sin", "seed_example"]
    samples: int = Field(200, gt=0, le=1_000_000)
    noise: float = Field(0.0, ge=0.0, le=1.0)
    classes: int = Field(3, ge=2, le=MAX_CLASSES, description="K, for spirals and blobs")


class CsvData(Frozen):
    dataset: Literal["csv"]
    path: str = Field(min_length=1, description="relative to the session file's folder")
    input_columns: list[str | int] | None = None
    target_column: str | int | None = None
    task: Literal["classification", "regression"] = "regression"


def _data_tag(value: Any) -> str:
    if isinstance(value, dict):
        if "inputs" in value or "targets" in value:
            return "inline"
        return "csv" if value.get("dataset") == "csv" else "generated"
    tags: dict[type, str] = {InlineData: "inline", GeneratedData: "generated", CsvData: "csv"}
    return tags.get(type(value), "")


Data = Annotated[
    Annotated[InlineData, Tag("inline")] | Annotated[GeneratedData, Tag("generated")]
    | Annotated[CsvData, Tag("csv")],
    Discriminator(_data_tag),
]


Task = Annotated[StepTask | TrainTask | EvolveTask, Field(discriminator="kind")]


class PanelSettings(Frozen):
    """What the app's panels were set to, beside the session's one task: the training
    and evolution settings and the stepping inputs. Headless runs ignore it."""

    train: TrainTask | None = None
    evolve: EvolveTask | None = None
    probe: list[float] | None = Field(None, description="the input sliders' values")
    probe_target: float | None = None
    stepping_batch: int | None = Field(None, ge=-1, description="-1: the slider sample; "
                                       "0: the whole dataset; N: its first N samples")


class Session(Frozen):
    format: Literal["chainlab/1"]
    name: str = ""
    seed: int = Field(0, ge=0, lt=2**63)
    dtype: Literal["float32", "float64"] = "float32"
    network: NetworkSpec
    data: Data
    loss: Literal["mse", "cross_entropy", "bce_with_logits"] = "mse"
    task: Task = StepTask()
    panels: PanelSettings | None = None


def parse_session(text: str) -> Session:
    """Parse and validate session JSON; raises :class:`SessionError`."""
    raw = json_object(text, FORMAT, "a session", SessionError)
    session = validated(Session, raw, _first_error, SessionError)
    _check_consistency(session)
    return session


def load_session(path: str | Path) -> Session:
    """Read (a regular file, at most ``SESSION_LIMIT`` bytes) and validate a session."""
    try:
        text = read_text(Path(path), SESSION_LIMIT)
    except FileLimitError as error:
        raise SessionError("", str(error)) from None
    return parse_session(text)


def session_json(session: Session) -> str:
    return json.dumps(session.model_dump(mode="json", exclude_none=True), indent=2) + "\n"


def save_session(session: Session, path: str | Path) -> None:
    """Write atomically: a temporary file in the same folder, then a rename."""
    write_atomic(Path(path), session_json(session).encode("utf-8"))


def write_atomic(path: Path, data: bytes) -> None:
    """A temporary file beside ``path``, renamed over it when complete; it gets the mode
    a file written in place would have (not mkstemp's 0600)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, mode_for(path))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def json_schema() -> dict[str, Any]:
    return Session.model_json_schema()


def _first_error(error: ValidationError) -> SessionError:
    first = error.errors()[0]
    # Drop pydantic's union tags ("linear", "generated") so the path is the JSON's own.
    tags = {"linear", "norm", "activation", "residual", "inline", "generated", "csv", "step",
            "train", "evolve", "list[float]", "list[list[float]]", "TrainTask", "EvolveTask",
            "float", "int", "str", "constrained-float", "function-after[_from_name(), "
            "InitSpec]"}
    path = ".".join(str(part) for part in first["loc"] if str(part) not in tags)
    message = first["msg"]
    if first["type"] == "missing":
        message = "required field is missing"
    elif first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "too_short" and path.endswith(".layers"):
        message = "a residual block needs at least one layer"
    elif first["type"] in ("literal_error", "union_tag_invalid"):
        message = f"{message} (got {first.get('input')!r})"
    return SessionError(path, message)


def _check_consistency(session: Session) -> None:
    """Checks that need more than one field: shapes between data and network."""
    data, network = session.data, session.network
    if isinstance(data, InlineData):
        for row, values in enumerate(data.inputs):
            if len(values) != network.input_size:
                raise SessionError(f"data.inputs.{row}", f"expected {network.input_size} "
                                   f"value(s) (network.input_size), got {len(values)}")
        if len(data.targets) != len(data.inputs):
            raise SessionError("data.targets", f"expected {len(data.inputs)} targets (one per "
                               f"input row), got {len(data.targets)}")
    elif isinstance(data, GeneratedData):
        features = 1 if data.dataset in ("sin", "seed_example") else 2
        if data.dataset in MULTI_CLASS and data.samples < data.classes:
            raise SessionError("data.samples", f"{data.dataset} with {data.classes} classes "
                               f"needs at least {data.classes} samples, got {data.samples}")
        if features != network.input_size:
            raise SessionError("network.input_size", f"dataset {data.dataset!r} has "
                               f"{features} input feature(s), the network takes "
                               f"{network.input_size}")
    mismatch = network.width_error()
    if mismatch is not None:
        raise SessionError(*mismatch)
    if isinstance(session.task, EvolveTask):
        _check_evolve(session.task, network)
    has_batch_norm = any(isinstance(s, NormSpec) and s.kind == "batch"
                         for _, s in walk_specs(network.layers))
    if has_batch_norm and isinstance(session.task, TrainTask) and session.task.batch_size == 1:
        raise SessionError("task.batch_size", "batch norm needs at least 2 samples per batch")
    if isinstance(session.task, TrainTask):
        check_precision(session.task.precision, session.dtype)
    _check_settings_fit(session)


def _check_settings_fit(session: Session) -> None:
    """Every number of the task and of the layers' initialisers fits the dtype the chain
    computes in: a learning rate of 1e308 in a float32 chain could not become a float32
    tensor (torch raised "value cannot be converted to type float without overflow")."""
    largest = float(np.finfo(session.dtype).max)
    places: list[tuple[str, Any]] = [("task", session.task.model_dump())]
    if session.panels is not None:  # the GUI's own settings run too
        places.append(("panels", session.panels.model_dump()))
    places += [(f"{path}.init", spec.init.model_dump()) for path, spec in
               walk_specs(session.network.layers) if isinstance(spec, LinearSpec)]
    for path, value in places:
        _check_fits(value, path, largest, session.dtype)


def _check_fits(value: Any, path: str, largest: float, dtype: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _check_fits(item, f"{path}.{key}", largest, dtype)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_fits(item, f"{path}.{index}", largest, dtype)
    elif isinstance(value, float) and abs(value) > largest:
        raise SessionError(path, f"{value:g} does not fit in {dtype} (largest "
                                 f"{largest:.4g}), the session's dtype")


# Bits per value; a storage format must not be wider than the dtype the chain computes in.
FORMAT_BITS = {"float64": 64, "float32": 32, "float16": 16, "bfloat16": 16,
               "float8_e4m3fn": 8, "float8_e5m2": 8}


def storage_formats(dtype: str) -> list[str]:
    """The storage formats a chain computing in ``dtype`` can keep its weights in."""
    return [name for name, bits in FORMAT_BITS.items() if bits <= FORMAT_BITS[dtype]]


def check_precision(precision: PrecisionSpec | None, dtype: str) -> None:
    """Raises :class:`SessionError` when the storage format is wider than ``dtype``."""
    if precision is not None and precision.storage not in storage_formats(dtype):
        raise SessionError("task.precision.storage", f"{precision.storage} is wider "
                           f"than the session dtype {dtype} the chain computes in; store "
                           f"in {dtype} or narrower")


def _check_evolve(task: EvolveTask, network: NetworkSpec) -> None:
    if task.algorithm == "ga":
        _check_ga(task)
    else:
        _check_strategy(task)
    linear_count = sum(isinstance(s, LinearSpec) for _, s in walk_specs(network.layers))
    if isinstance(task.scales, list) and len(task.scales) != linear_count:
        raise SessionError("task.scales", f"expected one scale per linear layer "
                           f"({linear_count}), got {len(task.scales)}")


def _check_strategy(task: EvolveTask) -> None:
    """The float strategies ignore the GA's settings (elite, selection, …)."""
    if task.islands > 1:
        raise SessionError("task.islands", f"islands are for the GA only; "
                           f"{task.algorithm} runs one population (set islands to 1), "
                           f"got {task.islands}")
    if task.algorithm == "openes" and task.population % 2:
        raise SessionError("task.population", "OpenES evaluates perturbations in "
                           "antithetic pairs (+e, -e), so the population must be even, "
                           f"got {task.population}")


def _check_ga(task: EvolveTask) -> None:
    if task.population < task.elite + 1:
        raise SessionError("task.population", f"must be at least elite + 1 = {task.elite + 1}, "
                           f"got {task.population}")
    if task.selection == "tournament" and task.tournament_size > task.population:
        raise SessionError("task.tournament_size", f"must not exceed the population "
                           f"({task.population}), got {task.tournament_size}")
    room = task.population - task.elite
    if task.islands > 1 and task.migration.count >= room:
        raise SessionError("task.migration.count", f"must be below population - elite = "
                           f"{room} (migrants replace the worst, never the elites), got "
                           f"{task.migration.count}")
