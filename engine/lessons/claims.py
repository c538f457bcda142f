"""Evaluating a lesson's claims with the engine.

Quantities (a claim's ``quantity``):

- ``pass``: one forward and backward pass of the lesson's session over its data (or over
  ``inputs``), then ``what`` of layer ``layer`` at ``index``: ``output``,
  ``grad_output`` (dL/d output), ``grad_input``, ``local_derivative`` (f'(z) of an
  activation), ``grad_weight``, ``grad_bias``, ``weight``, ``bias``;
- ``stat``: a per-layer statistic of that pass (:class:`engine.core.stats.LayerStats`);
- ``gradient_ratio``: ‖dL/dW‖ of the first linear layer over the last one's;
- ``result`` / ``result_ratio``: run the session's task (or the claim's ``task``: the GA
  beside OpenES on the same chain) as ``main.py run`` does and read ``result.json`` at a
  dotted ``path`` (negative list indices count from the end);
- ``float`` / ``limit``: a reading or a limit of a number format (exact decimal text);
- ``derivative_max``: the largest f'(x) of an activation on [-10, 10] (grid of 20 001);
- ``singular_value_max``: the largest singular value of layer ``layer``'s weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.core.activations import activate, derivative
from engine.core.layers import Linear
from engine.core.stats import layer_stats
from engine.core.stepper import Pass
from engine.data.datasets import Dataset
from engine.data.experiment import build_experiment, data_tensors
from engine.data.session import InlineData, Session
from engine.headless.runner import run_session
from engine.lessons.lesson import Claim, Lesson
from engine.numbers.limits import limits
from engine.numbers.reading import encode


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    value: float | str | None  # what the engine computed (None: it could not)
    passed: bool
    detail: str  # the expectation, or why the quantity could not be computed

    def line(self) -> str:
        mark = "ok  " if self.passed else "FAIL"
        shown = f"{self.value:.6g}" if isinstance(self.value, float) else self.value
        return f"{mark} {self.claim.says}  [engine: {shown}; {self.detail}]"


def check_lesson(lesson: Lesson) -> list[ClaimResult]:
    """Every claim of ``lesson``, evaluated (results of runs are shared between claims)."""
    cache: dict[str, Any] = {}
    return [check_claim(lesson.session, claim, cache) for claim in lesson.claims]


def check_claim(session: Session, claim: Claim, cache: dict[str, Any] | None = None
                ) -> ClaimResult:
    cache = {} if cache is None else cache
    if claim.network is not None:  # another chain on the same data: its own cache
        session = session.model_copy(update={"network": claim.network})
        cache = cache.setdefault(f"network:{claim.network.model_dump_json()}", {})
    if claim.task is not None:  # another task on the same chain and data: its own cache
        session = session.model_copy(update={"task": claim.task})
        cache = cache.setdefault(f"task:{claim.task.model_dump_json()}", {})
    try:
        value = _quantity(session, claim, cache)
    except (ValueError, IndexError, KeyError, TypeError, ZeroDivisionError) as error:
        return ClaimResult(claim, None, False, f"cannot compute: {error}")
    return _compare(claim, value)


def _compare(claim: Claim, value: float | str) -> ClaimResult:
    if claim.equals_text is not None:
        return ClaimResult(claim, value, str(value) == claim.equals_text,
                           f"expected {claim.equals_text}")
    number = float(value)
    checks: list[tuple[bool, str]] = []
    if claim.equals is not None:
        if claim.digits is not None:
            same = f"{number:.{claim.digits - 1}e}" == f"{claim.equals:.{claim.digits - 1}e}"
            checks.append((same, f"expected {claim.equals:.{claim.digits}g} to "
                                 f"{claim.digits} digits"))
        else:
            assert claim.tolerance is not None
            checks.append((abs(number - claim.equals) <= claim.tolerance,
                           f"expected {claim.equals:g} ± {claim.tolerance:g}"))
    if claim.below is not None:
        checks.append((number < claim.below, f"expected below {claim.below:g}"))
    if claim.above is not None:
        checks.append((number > claim.above, f"expected above {claim.above:g}"))
    return ClaimResult(claim, number, all(ok for ok, _ in checks),
                       "; ".join(text for _, text in checks))


def _quantity(session: Session, claim: Claim, cache: dict[str, Any]) -> float | str:
    kind = claim.quantity
    if kind == "float":
        reading = encode(_required(claim.format, "format"), _required(claim.value, "value"))
        field = claim.field or "stored"
        return {"stored": reading.stored_decimal, "error": reading.error_decimal or "",
                "ulp": reading.ulp_decimal or "", "bits": reading.bit_string}[field]
    if kind == "limit":
        return limits(_required(claim.format, "format")).decimals()[
            _required(claim.field, "field")] or ""
    if kind == "derivative_max":
        x = torch.linspace(-10, 10, 20_001, dtype=torch.float64)
        kind_name = _required(claim.activation, "activation")
        return float(derivative(kind_name, x, activate(kind_name, x)).max())
    if kind in ("result", "result_ratio"):
        if "result" not in cache:
            cache["result"] = run_session(session).result
        value = _at(cache["result"], _required(claim.path, "path"))
        if kind == "result_ratio":
            value = value / _at(cache["result"], _required(claim.denominator, "denominator"))
        return float(value)
    pass_ = _pass(session, claim.inputs, cache)
    if kind == "gradient_ratio":
        stats = layer_stats(pass_)
        linear = [i for i, layer in enumerate(pass_.chain.layers) if isinstance(layer, Linear)]
        first, last = stats[linear[0]].grad_weight_l2, stats[linear[-1]].grad_weight_l2
        if first is None or last is None:
            raise ValueError("the pass computed no weight gradient")
        return first / last
    layer = _required(claim.layer, "layer")
    if kind == "stat":
        value = getattr(layer_stats(pass_)[layer], _required(claim.what, "what"))
        return float(value)
    if kind == "singular_value_max":
        weight = pass_.chain.layers[layer].params["weight"]
        return float(torch.linalg.svdvals(weight.double())[0])
    return _pass_value(pass_, layer, _required(claim.what, "what"), claim.index)


def _pass(session: Session, inputs: list[list[float]] | None,
          cache: dict[str, Any]) -> Pass:
    key = f"pass:{inputs}"
    if key not in cache:
        experiment = build_experiment(session)
        x, y = experiment.inputs, experiment.targets
        if inputs is not None:
            data = InlineData(inputs=inputs, targets=[[0.0] * experiment.chain.output_size
                                                      for _ in inputs])
            x, y = data_tensors(_inline(data), session.loss, experiment.chain)
        cache[key] = Pass(experiment.chain, x, y, session.loss).run()
    return cache[key]


def _inline(data: InlineData) -> Dataset:
    inputs = np.asarray(data.inputs, dtype=np.float64)
    return Dataset(inputs, np.asarray(data.targets, dtype=np.float64), "regression",
                   tuple(f"x{i + 1}" for i in range(inputs.shape[1])))


def _pass_value(pass_: Pass, layer: int, what: str, index: list[int]) -> float:
    row, unit = index[0], index[1] if len(index) > 1 else 0
    backward = pass_.backwards[layer]
    tensors = {
        "output": lambda: pass_.outputs[layer],
        "grad_output": lambda: pass_.grad_outputs[layer],
        "grad_input": lambda: backward.grad_input if backward is not None else None,
        "weight": lambda: pass_.chain.layers[layer].params["weight"],
        "bias": lambda: pass_.chain.layers[layer].params["bias"].reshape(1, -1),
        "grad_weight": lambda: pass_.grads(layer)["weight"],
        "grad_bias": lambda: pass_.grads(layer)["bias"].reshape(1, -1),
    }
    if what == "local_derivative":
        record = pass_.record(layer)
        if record.local is None:
            raise ValueError(f"layer {layer} has no local derivative")
        return float(record.local.reshape(record.output.shape)[row, unit])
    tensor = tensors[what]()
    if tensor is None:
        raise ValueError(f"{what} of layer {layer} was not computed")
    return float(tensor[row, unit])


def _at(result: Any, path: str) -> Any:
    value = result
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def _required(value: Any, name: str) -> Any:
    if value is None:
        raise ValueError(f"this quantity needs {name!r}")
    return value
