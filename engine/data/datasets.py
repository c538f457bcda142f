"""Seeded datasets: TensorFlow Playground's six, K-class spirals and blobs, a 1-D sine,
the seed example, a CSV file.

The Playground generators follow ``dataset.ts`` of tensorflow/playground rule for rule:
same ranges, same noise model (``noise`` is the Playground's percentage / 100; the
Playground's slider stops at 0.5, the session format allows up to 1), same labels
(+1 / -1 for classification, [-1, 1] for regression). Those ±1 labels are read as classes
1 / 0 by ``cross_entropy`` and ``bce_with_logits``. ``spirals`` and ``blobs`` have K ≥ 2
classes labelled 0..K−1, as are classification CSVs (a CSV whose labels are all ±1 is
read the Playground's way).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.files import CSV_LIMIT, FileLimitError, read_text

CLASSIFICATION = ("circle", "xor", "gaussian", "spiral")  # Playground's, labels ±1
MULTI_CLASS = ("spirals", "blobs")  # K classes, labels 0..K-1
REGRESSION = ("plane", "multi_gaussian", "sin")
DATASETS = (*CLASSIFICATION, *MULTI_CLASS, *REGRESSION, "seed_example", "csv")
MAX_CLASSES = 10


class DatasetError(ValueError):
    """A dataset that cannot be made or read; the message names the cause (and line)."""


@dataclass(frozen=True)
class Dataset:
    """Inputs (samples, features) and targets (samples,) or (samples, outputs).

    ``classes`` is the number of classes of a classification dataset (0 for regression);
    ``signed_labels`` marks the Playground's ±1 labels, which the classification losses
    read as 1 / 0.
    """

    inputs: np.ndarray
    targets: np.ndarray
    task: str  # "classification" or "regression"
    feature_names: tuple[str, ...]
    name: str = ""
    classes: int = 0
    signed_labels: bool = False

    def __post_init__(self) -> None:
        if len(self.inputs) == 0:
            raise DatasetError("the dataset is empty")
        if len(self.inputs) != len(self.targets):
            raise DatasetError(f"{len(self.inputs)} input rows but {len(self.targets)} targets")

    @property
    def size(self) -> int:
        return len(self.inputs)

    def targets_for(self, loss: str) -> np.ndarray:
        """Targets as ``loss`` reads them: Playground's -1 label becomes class 0."""
        if self.signed_labels and loss in ("cross_entropy", "bce_with_logits"):
            return (self.targets > 0).astype(np.float64)
        return self.targets


def make_dataset(name: str, samples: int, noise: float, seed: int,
                 classes: int = 3) -> Dataset:
    """Generate the named built-in dataset (not ``csv``); ``classes`` is K for the
    multi-class ones."""
    if samples < 1:
        raise DatasetError(f"samples must be at least 1, got {samples}")
    if not 0.0 <= noise <= 1.0:
        raise DatasetError(f"noise must lie in [0, 1], got {noise}")
    if name in MULTI_CLASS:
        if not 2 <= classes <= MAX_CLASSES:
            raise DatasetError(f"classes must lie in 2..{MAX_CLASSES}, got {classes}")
        rng = np.random.default_rng(seed)
        inputs, labels = _MULTI_CLASS_GENERATORS[name](samples, noise, classes, rng)
        return Dataset(inputs, labels, "classification", ("x1", "x2"), name, classes)
    if name not in _GENERATORS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    rng = np.random.default_rng(seed)
    points, label_list = _GENERATORS[name](samples, noise, rng)
    inputs = np.asarray(points, dtype=np.float64).reshape(len(label_list), -1)
    labels = np.asarray(label_list, dtype=np.float64)
    names = ("x",) if inputs.shape[1] == 1 else ("x1", "x2")
    if name in CLASSIFICATION:
        return Dataset(inputs, labels, "classification", names, name, classes=2,
                       signed_labels=True)
    return Dataset(inputs, labels, "regression", names, name)


Generated = tuple[list, list]


def _uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _normal(rng: np.random.Generator, mean: float, variance: float) -> float:
    # Playground's polar Box-Muller (normalRandom), variance not sigma.
    while True:
        v1, v2 = 2 * rng.random() - 1, 2 * rng.random() - 1
        s = v1 * v1 + v2 * v2
        if 0 < s <= 1:
            return mean + math.sqrt(variance) * math.sqrt(-2 * math.log(s) / s) * v1


def _circle(n: int, noise: float, rng: np.random.Generator) -> Generated:
    radius, points, labels = 5.0, [], []

    def sample(r_low: float, r_high: float) -> None:
        r = _uniform(rng, r_low, r_high)
        angle = _uniform(rng, 0, 2 * math.pi)
        x, y = r * math.sin(angle), r * math.cos(angle)
        nx, ny = _uniform(rng, -radius, radius) * noise, _uniform(rng, -radius, radius) * noise
        points.append((x, y))
        labels.append(1.0 if math.hypot(x + nx, y + ny) < radius * 0.5 else -1.0)

    for _ in range(n // 2):
        sample(0, radius * 0.5)
    for _ in range(n - n // 2):
        sample(radius * 0.7, radius)
    return points, labels


def _xor(n: int, noise: float, rng: np.random.Generator) -> Generated:
    points, labels, padding = [], [], 0.3
    for _ in range(n):
        x = _uniform(rng, -5, 5)
        x += padding if x > 0 else -padding
        y = _uniform(rng, -5, 5)
        y += padding if y > 0 else -padding
        nx, ny = _uniform(rng, -5, 5) * noise, _uniform(rng, -5, 5) * noise
        points.append((x, y))
        labels.append(1.0 if (x + nx) * (y + ny) >= 0 else -1.0)
    return points, labels


def _gaussian(n: int, noise: float, rng: np.random.Generator) -> Generated:
    variance = 0.5 + 3.5 * (noise / 0.5)  # d3 linear scale [0, .5] → [0.5, 4]
    points, labels = [], []
    for (cx, cy, label), count in (((2, 2, 1.0), n // 2), ((-2, -2, -1.0), n - n // 2)):
        for _ in range(count):
            points.append((_normal(rng, cx, variance), _normal(rng, cy, variance)))
            labels.append(label)
    return points, labels


def _spiral(n: int, noise: float, rng: np.random.Generator) -> Generated:
    points, labels = [], []
    for delta, label, count in ((0.0, 1.0, n // 2), (math.pi, -1.0, n - n // 2)):
        for i in range(count):
            r = i / count * 5
            t = 1.75 * i / count * 2 * math.pi + delta
            x = r * math.sin(t) + _uniform(rng, -1, 1) * noise
            y = r * math.cos(t) + _uniform(rng, -1, 1) * noise
            points.append((x, y))
            labels.append(label)
    return points, labels


def _regression(label_of: Callable[[float, float], float]) -> Callable[..., Generated]:
    def generate(n: int, noise: float, rng: np.random.Generator) -> Generated:
        radius, points, labels = 6.0, [], []
        for _ in range(n):
            x, y = _uniform(rng, -radius, radius), _uniform(rng, -radius, radius)
            nx = _uniform(rng, -radius, radius) * noise
            ny = _uniform(rng, -radius, radius) * noise
            points.append((x, y))
            labels.append(label_of(x + nx, y + ny))
        return points, labels
    return generate


def _plane_label(x: float, y: float) -> float:
    return (x + y) / 10.0  # d3 linear scale [-10, 10] → [-1, 1], not clamped


_GAUSSIANS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1),
              (4, -2.5, -1))


def _multi_gaussian_label(x: float, y: float) -> float:
    label = 0.0
    for cx, cy, sign in _GAUSSIANS:
        scaled = min(max(1.0 - math.hypot(x - cx, y - cy) / 2.0, 0.0), 1.0)
        candidate = sign * scaled
        if abs(candidate) > abs(label):
            label = candidate
    return label


def _sin(n: int, noise: float, rng: np.random.Generator) -> Generated:
    xs = rng.uniform(-math.pi, math.pi, size=n)
    ys = np.sin(xs) + noise * rng.standard_normal(n)
    return [(float(x),) for x in xs], [float(y) for y in ys]


def _seed_example(n: int, noise: float, rng: np.random.Generator) -> Generated:
    # The seed notes' single example: input 10, target 0.5.
    return [(10.0,)], [0.5]


_GENERATORS: dict[str, Callable[[int, float, np.random.Generator], Generated]] = {
    "circle": _circle, "xor": _xor, "gaussian": _gaussian, "spiral": _spiral,
    "plane": _regression(_plane_label), "multi_gaussian": _regression(_multi_gaussian_label),
    "sin": _sin, "seed_example": _seed_example,
}


def _class_sizes(samples: int, classes: int) -> list[int]:
    return [samples // classes + (k < samples % classes) for k in range(classes)]


def _spirals(n: int, noise: float, classes: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """K interleaved arms, Playground's two-spiral rule with the arms 2π/K apart."""
    points, labels = [], []
    for k, count in enumerate(_class_sizes(n, classes)):
        i = np.arange(count)
        r = i / max(count, 1) * 5
        t = 1.75 * i / max(count, 1) * 2 * math.pi + 2 * math.pi * k / classes
        jitter = rng.uniform(-1, 1, size=(count, 2)) * noise
        points.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1) + jitter)
        labels.append(np.full(count, float(k)))
    return np.concatenate(points), np.concatenate(labels)


def _blobs(n: int, noise: float, classes: int,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """K Gaussian blobs on a circle of radius 3.5; variance grows with the noise as in
    Playground's two-Gaussian set (0.5 at noise 0, 4 at 0.5)."""
    sigma = math.sqrt(0.5 + 3.5 * (noise / 0.5))
    points, labels = [], []
    for k, count in enumerate(_class_sizes(n, classes)):
        angle = 2 * math.pi * k / classes
        centre = 3.5 * np.array([math.cos(angle), math.sin(angle)])
        points.append(centre + sigma * rng.standard_normal((count, 2)))
        labels.append(np.full(count, float(k)))
    return np.concatenate(points), np.concatenate(labels)


_MULTI_CLASS_GENERATORS = {"spirals": _spirals, "blobs": _blobs}


def load_csv(path: str | Path, input_columns: Sequence[str | int] | None = None,
             target_column: str | int | None = None,
             task: str = "regression") -> Dataset:
    """Read a CSV file of numbers (an optional header row names the columns).

    Columns are chosen by header name or 0-based index; by default every column but the
    last is an input and the last is the target. Errors name the file line. The file
    must be a regular file of at most ``CSV_LIMIT`` bytes; rows go straight into one
    preallocated table (no list of rows is kept).
    """
    path = Path(path)
    try:
        text = read_text(path, CSV_LIMIT)
    except FileLimitError as error:
        raise DatasetError(str(error)) from None
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    table: np.ndarray | None = None
    lines: list[int] = []  # the file line of each table row, for error messages
    width = 0
    for number, row in enumerate(reader, 1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if table is None:
            if header is None and not all(_is_number(cell) for cell in row):
                header = [cell.strip() for cell in row]
                width = len(header)
                continue
            width = width or len(row)
            if width < 2:
                raise DatasetError(f"{path}: need at least two columns (inputs and a target)")
            table = np.empty((text.count("\n") + text.count("\r") + 1, width))
        if len(row) != width:
            raise DatasetError(f"{path}, line {number}: expected {width} columns, got {len(row)}")
        table[len(lines)] = [_cell(cell, path, number, c) for c, cell in enumerate(row)]
        lines.append(number)
    if table is None:
        raise DatasetError(f"{path}: the file has a header but no data rows" if header
                           else f"{path}: the file has no rows")
    table = table[:len(lines)]
    names = header or [f"column {i}" for i in range(width)]
    target = _column_index(target_column if target_column is not None else width - 1,
                           names, path)
    if input_columns is None:
        inputs = [i for i in range(width) if i != target]
    else:
        inputs = [_column_index(c, names, path) for c in input_columns]
    if not inputs:
        raise DatasetError(f"{path}: choose at least one input column")
    if target in inputs:
        raise DatasetError(f"{path}: column {names[target]!r} is both an input and the target")
    labels = table[:, target]
    classes, signed = _classes_of(labels, lines, path) \
        if task == "classification" else (0, False)
    return Dataset(table[:, inputs], labels, task, tuple(names[i] for i in inputs),
                   path.name, classes, signed)


def _classes_of(labels: np.ndarray, lines: list[int], path: Path) -> tuple[int, bool]:
    """(K, signed) of a classification column: whole labels 0..K-1, or Playground's ±1."""
    values = set(np.unique(labels).tolist())
    if -1.0 in values and values <= {-1.0, 1.0}:
        return 2, True
    for row, label in enumerate(labels):
        if label != round(label) or label < 0:
            raise DatasetError(f"{path}, line {lines[row]}: class label {label:g} is not a "
                               "whole number >= 0 (classification labels are 0..K-1)")
    count = int(labels.max()) + 1
    if count > 1000:
        raise DatasetError(f"{path}: class labels go up to {count - 1}; at most 1000 "
                           "classes are supported")
    return max(count, 2), False


def _cell(cell: str, path: Path, line: int, column: int) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise DatasetError(f"{path}, line {line}, column {column + 1}: {cell.strip()!r} is "
                           "not a number") from None
    if not math.isfinite(value):
        raise DatasetError(f"{path}, line {line}, column {column + 1}: {cell.strip()!r} is "
                           "not a finite number")
    return value


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _column_index(column: str | int, names: list[str], path: Path) -> int:
    if isinstance(column, int):
        if not 0 <= column < len(names):
            raise DatasetError(f"{path}: column index {column} is out of range "
                               f"(0..{len(names) - 1})")
        return column
    if column not in names:
        raise DatasetError(f"{path}: no column named {column!r} (have {', '.join(names)})")
    return names.index(column)
