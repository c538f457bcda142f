"""GA (4-bit) against OpenES (float), OpenES's best snapped to the 4-bit grid, and SGD on
one chain and one budget: each curve recomputed here by other means (the quantised one
through the ordinary forward pass of a Chain holding grid values chosen by brute force,
SGD through torch.optim on a torch.nn twin)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from engine.core.optim import SGDConfig
from engine.core.stepper import Pass
from engine.data.experiment import build_experiment
from engine.data.session import parse_session
from engine.evolution.comparison import (
    CURVES,
    CurvePoint,
    final_losses,
    grid_comparison,
    summary_line,
)
from engine.evolution.setup import prepare_evolution
from engine.evolution.strategies import prepare_strategy
from tests.engine.helpers import torch_loss, torch_twin

BUDGET = 150
SGD = SGDConfig(lr=0.3, momentum=0.9)


def experiment():
    session = parse_session(json.dumps({
        "format": "chainlab/1", "seed": 3, "dtype": "float64",
        "network": {"input_size": 2, "layers": [
            {"type": "linear", "out_features": 5}, {"type": "activation", "kind": "tanh"},
            {"type": "linear", "out_features": 1}]},
        "data": {"dataset": "spiral", "samples": 24, "noise": 0.0},
        "loss": "bce_with_logits",
        "task": {"kind": "evolve", "population": 9, "elite": 1, "scales": 0.5,
                 "openes": {"sigma": 0.2, "lr": 0.1}}}))
    return session, build_experiment(session)


def curves(points: list[CurvePoint]) -> dict[str, list[CurvePoint]]:
    return {name: [p for p in points if p.curve == name] for name in CURVES}


@pytest.fixture(scope="module")
def run() -> tuple[object, object, dict[str, list[CurvePoint]], list[CurvePoint]]:
    session, exp = experiment()
    before = [t.clone() for _, layer in exp.chain.linear_layers() for t in layer.params.values()]
    points = list(grid_comparison(exp.chain, exp.inputs, exp.targets, session.loss,
                                  session.task, session.seed, SGD, BUDGET))
    after = [t for _, layer in exp.chain.linear_layers() for t in layer.params.values()]
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    return session, exp, curves(points), points


def nearest_on_grid(value: float, alpha: float) -> float:
    """Brute force over {0, α·2^-6, …, α}: the nearest, ties to the smaller magnitude,
    the sign the value's."""
    levels = [0.0] + [alpha * 2.0**-e for e in range(6, -1, -1)]
    return math.copysign(min(levels, key=lambda lv: (abs(abs(value) - lv), lv)), value)


def test_each_method_stops_at_the_first_generation_that_reaches_the_budget(run) -> None:
    _, _, by_curve, points = run
    assert [p.curve for p in points] == sorted((p.curve for p in points), key=CURVES.index)
    for name in ("ga", "es", "es_4bit"):
        evaluations = [p.evaluations for p in by_curve[name]]
        assert evaluations[-1] >= BUDGET > evaluations[-2], name
    assert [p.evaluations for p in by_curve["sgd"]] == list(range(1, BUDGET + 1))


def test_the_float_and_ga_curves_are_the_runs_set_up_as_the_app_does(run) -> None:
    session, exp, by_curve, _ = run
    ga = prepare_evolution(exp.chain, exp.inputs, exp.targets, session.loss,
                           session.task, session.seed)
    ga_best = [s.best for s, _ in zip(ga.generations(limit=0), by_curve["ga"], strict=False)]
    assert [p.loss for p in by_curve["ga"]] == ga_best
    # OpenES with the population made even (9 → 10)
    task = session.task.model_copy(update={"algorithm": "openes", "population": 10})
    es = prepare_strategy(exp.chain, exp.inputs, exp.targets, session.loss, task, session.seed)
    records = [r for r, _ in zip(es.generations(limit=0), by_curve["es"], strict=False)]
    assert [p.loss for p in by_curve["es"]] == [r.best for r in records]
    assert [p.evaluations for p in by_curve["es"]] == [11 * (g + 1) for g in range(len(records))]


def test_quantised_curve_is_the_ordinary_pass_of_the_snapped_best_weights(run) -> None:
    session, exp, by_curve, _ = run
    task = session.task.model_copy(update={"algorithm": "openes", "population": 10})
    es = prepare_strategy(exp.chain, exp.inputs, exp.targets, session.loss, task, session.seed)
    records = [r for r, _ in zip(es.generations(limit=0), by_curve["es"], strict=False)]
    assert len(by_curve["es_4bit"]) == len(records)
    assert [p.seconds for p in by_curve["es_4bit"]] == [p.seconds for p in by_curve["es"]]
    for record, point in zip(records, by_curve["es_4bit"], strict=True):
        chain = exp.chain.copy()
        at = 0
        for _, layer in chain.linear_layers():  # α = 0.5 for every layer (task.scales)
            for name in ("weight", "bias"):
                shape = layer.params[name].shape
                size = int(np.prod(shape))
                values = [nearest_on_grid(float(w), 0.5)
                          for w in record.best_weights[at:at + size]]
                layer.set_param(name, torch.tensor(values, dtype=torch.float64).reshape(shape))
                at += size
        assert at == len(record.best_weights)
        expected = float(Pass(chain, exp.inputs, exp.targets, session.loss).run().loss)
        assert point.loss == pytest.approx(expected, rel=1e-12)
        assert point.evaluations == record.evaluations


def test_sgd_curve_is_torch_sgd_on_a_twin_from_the_same_chain(run) -> None:
    session, exp, by_curve, _ = run
    model = torch_twin(exp.chain)
    optimiser = torch.optim.SGD(model.parameters(), lr=SGD.lr, momentum=SGD.momentum)
    expected = []
    for _ in range(BUDGET):
        optimiser.zero_grad()
        loss = torch_loss(session.loss, model(exp.inputs), exp.targets)
        expected.append(float(loss.detach()))
        loss.backward()
        optimiser.step()
    np.testing.assert_allclose([p.loss for p in by_curve["sgd"]], expected, rtol=1e-9)


def test_same_arguments_same_points_but_the_seconds(run) -> None:
    session, exp, _, points = run
    again = list(grid_comparison(exp.chain, exp.inputs, exp.targets, session.loss,
                                 session.task, session.seed, SGD, BUDGET))
    assert [(p.curve, p.evaluations, p.loss) for p in again] == \
        [(p.curve, p.evaluations, p.loss) for p in points]


def test_final_losses_and_the_summary_line(run) -> None:
    _, _, by_curve, points = run
    finals = final_losses(points)
    assert list(finals) == list(CURVES)
    assert finals == {name: by_curve[name][-1].loss for name in CURVES}
    line = summary_line(points)
    assert line.startswith(f"GA 4-bit {finals['ga']:.3g} · ES float {finals['es']:.3g}")
    assert f"ES→4-bit {finals['es_4bit']:.3g}" in line
    assert summary_line(points, BUDGET) == line  # every curve used the whole budget


def test_a_curve_that_ended_short_of_the_budget_says_after_how_many_passes(run) -> None:
    """As after Stop during ES: GA whole, ES part of the way, the others not begun."""
    _, _, by_curve, _ = run
    es_part = [p for p in by_curve["es"] if p.evaluations < BUDGET][:3]
    points = [*by_curve["ga"], *es_part]
    line = summary_line(points, BUDGET)
    reached = es_part[-1].evaluations
    assert line == (f"GA 4-bit {by_curve['ga'][-1].loss:.3g} · ES float "
                    f"{es_part[-1].loss:.3g} after {reached:,} passes".replace(",", "\u2009"))


def test_a_budget_below_one_is_refused() -> None:
    session, exp = experiment()
    with pytest.raises(ValueError, match="at least 1"):
        next(grid_comparison(exp.chain, exp.inputs, exp.targets, session.loss, session.task,
                             0, SGD, 0))
