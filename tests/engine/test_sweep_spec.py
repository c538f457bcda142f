"""Sweep files: parsing and refusals, expansion into cells, shorthands and dotted paths."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from engine.core.specs import ActivationSpec, LinearSpec, NormSpec, ResidualSpec, walk_specs
from engine.data.tasks import EvolveTask
from engine.sweeps.cells import expand, session_id, shared_runs_notice
from engine.sweeps.spec import SweepError, json_schema, load_sweep, parse_sweep
from engine.sweeps.worker import grad_ratio, outcome_of

ROOT = Path(__file__).resolve().parents[2]

BASE: dict[str, Any] = {
    "format": "chainlab/1", "seed": 0,
    "network": {"input_size": 2, "layers": [
        {"type": "linear", "out_features": 4}, {"type": "activation", "kind": "tanh"},
        {"type": "linear", "out_features": 4}, {"type": "activation", "kind": "tanh"},
        {"type": "linear", "out_features": 1}]},
    "data": {"dataset": "circle", "samples": 32},
    "loss": "bce_with_logits",
    "task": {"kind": "train", "steps": 3},
}


def sweep_text(axes: dict[str, list[Any]], **extra: Any) -> str:
    return json.dumps({"format": "chainlab-sweep/1", "base": BASE, "axes": axes, **extra})


def kinds(session: Any) -> list[str]:
    return [getattr(spec, "kind", spec.type) for _, spec in walk_specs(session.network.layers)]


def test_published_schema_is_the_models() -> None:
    published = json.loads((ROOT / "docs" / "sweep.schema.json").read_text())
    assert published == json_schema()


def test_the_example_sweep_loads_and_expands_to_its_grid() -> None:
    sweep = load_sweep(ROOT / "examples" / "sweep_depth_activation.json")
    cells = expand(sweep)
    assert len(cells) == 3 * 4 * 2
    assert all(cell.session is not None for cell in cells)


def test_grid_is_row_major_with_the_last_axis_fastest() -> None:
    cells = expand(parse_sweep(sweep_text({"seed": [1, 2], "task.lr": [0.1, 0.2, 0.3]})))
    assert [cell.value_map() for cell in cells] == [
        {"seed": s, "task.lr": lr} for s in (1, 2) for lr in (0.1, 0.2, 0.3)]
    assert [(c.session.seed, c.session.task.lr) for c in cells if c.session] == \
        [(s, lr) for s in (1, 2) for lr in (0.1, 0.2, 0.3)]


def test_random_sample_draws_distinct_cells_repeatably_from_the_seed() -> None:
    axes = {"seed": list(range(10)), "task.lr": [0.1, 0.2, 0.3]}
    first = expand(parse_sweep(sweep_text(axes, sample={"random": 7}, seed=3)))
    again = expand(parse_sweep(sweep_text(axes, sample={"random": 7}, seed=3)))
    other = expand(parse_sweep(sweep_text(axes, sample={"random": 7}, seed=4)))
    assert len({cell.id for cell in first}) == 7
    assert [c.values for c in first] == [c.values for c in again]
    assert [c.values for c in first] != [c.values for c in other]
    grid = [c.values for c in expand(parse_sweep(sweep_text(axes)))]
    assert all(c.values in grid for c in first)
    with pytest.raises(SweepError, match=r"^sample\.random: the grid has 30 cells"):
        expand(parse_sweep(sweep_text(axes, sample={"random": 31})))


def test_shorthands_set_activation_norm_and_depth() -> None:
    sweep = parse_sweep(sweep_text({"depth": [3], "norm": ["batch"], "activation": ["relu"]}))
    (cell,) = expand(sweep)
    assert cell.session is not None
    assert kinds(cell.session) == ["linear", "batch", "relu"] * 3 + ["linear"]
    widths = [s.out_features for s in cell.session.network.layers if isinstance(s, LinearSpec)]
    assert widths == [4, 4, 4, 1]
    (plain,) = expand(parse_sweep(sweep_text({"norm": ["none"], "depth": [1]})))
    assert plain.session is not None
    assert kinds(plain.session) == ["linear", "tanh", "linear"]


def test_activation_reaches_inside_residual_blocks() -> None:
    base = copy.deepcopy(BASE)
    base["network"]["layers"] = [
        {"type": "linear", "out_features": 4},
        {"type": "residual", "layers": [{"type": "linear", "out_features": 4},
                                        {"type": "activation", "kind": "tanh"}]},
        {"type": "linear", "out_features": 1}]
    text = json.dumps({"format": "chainlab-sweep/1", "base": base,
                       "axes": {"activation": ["gelu"]}})
    (cell,) = expand(parse_sweep(text))
    assert cell.session is not None
    residual = cell.session.network.layers[1]
    assert isinstance(residual, ResidualSpec)
    assert residual.layers[1] == ActivationSpec(kind="gelu")


def test_dotted_paths_apply_after_shorthands_in_the_order_written() -> None:
    # depth first rebuilds the network; the width set afterwards must survive it
    sweep = parse_sweep(sweep_text({"network.layers.0.out_features": [7], "depth": [2],
                                    "data.noise": [0.25]}))
    (cell,) = expand(sweep)
    assert cell.session is not None
    layers = cell.session.network.layers
    assert [s.out_features for s in layers if isinstance(s, LinearSpec)] == [7, 4, 1]
    assert cell.session.data.noise == 0.25  # type: ignore[union-attr]
    assert not any(isinstance(s, NormSpec) for s in layers)


def test_an_invalid_value_fails_its_cell_naming_the_field() -> None:
    cells = expand(parse_sweep(sweep_text({"task.lr": [0.1, -1.0], "seed": [0]})))
    good, bad = cells
    assert good.session is not None
    assert good.error is None
    assert bad.session is None
    assert bad.error is not None
    assert bad.error.startswith("task.lr: ")
    assert bad.id.startswith("invalid-")


def test_cell_ids_follow_the_resolved_session_not_the_axis_names() -> None:
    (by_path,) = expand(parse_sweep(sweep_text({"network.layers.1.kind": ["relu"]})))
    (by_shorthand,) = expand(parse_sweep(sweep_text({"activation": ["relu"]})))
    assert by_path.id != by_shorthand.id  # only one of the two activations changes
    (same,) = expand(parse_sweep(sweep_text({"seed": [0]})))
    (base,) = expand(parse_sweep(sweep_text({"task.lr": [0.03]})))  # the default lr
    assert same.id == base.id
    assert same.session is not None
    assert same.id == session_id(same.session)
    assert len(same.id) == 12


EVOLVE_BASE = {**BASE, "task": {"kind": "evolve", "population": 8, "generations": 2}}


def test_cells_differing_only_in_a_setting_their_run_ignores_share_one_run() -> None:
    """OpenES's sigma means nothing to the GA or PSO: those cells get one id (so they
    run once) and the sweep says so, naming the axis; OpenES cells keep one each."""
    text = json.dumps({"format": "chainlab-sweep/1", "base": EVOLVE_BASE, "axes": {
        "task.algorithm": ["ga", "openes", "pso"], "task.openes.sigma": [0.1, 0.2]}})
    cells = expand(parse_sweep(text))
    ids = {cell.value_map()["task.algorithm"]: set() for cell in cells}
    for cell in cells:
        ids[cell.value_map()["task.algorithm"]].add(cell.id)
    assert [len(ids[name]) for name in ("ga", "openes", "pso")] == [1, 2, 1]
    notice = shared_runs_notice(cells)
    assert notice.startswith("2 of 6 cells run the same session as another cell")
    assert 'task.openes.sigma = 0.2 changes nothing where task.algorithm = "ga"' in notice
    assert shared_runs_notice(expand(parse_sweep(sweep_text({"seed": [0, 1]})))) == ""


def test_an_evolve_tasks_effective_settings_are_those_its_run_reads() -> None:
    ga = EvolveTask(selection="rank", tournament_size=7, openes={"sigma": 0.3},
                    pso={"inertia": 0.5}, migration={"every": 3, "count": 1})
    assert ga.effective() == EvolveTask(selection="rank")
    pso = EvolveTask(algorithm="pso", elite=5, mutation_rate=0.2, pso={"inertia": 0.5},
                     openes={"sigma": 0.3})
    assert pso.effective() == EvolveTask(algorithm="pso", pso={"inertia": 0.5})
    islands = EvolveTask(islands=2, migration={"every": 3, "count": 1})
    assert islands.effective() == islands
    assert EvolveTask().effective() == EvolveTask()  # a default task keeps its id


@pytest.mark.parametrize(("text", "message"), [
    ("{", r"^invalid JSON at line 1"),
    ("[]", r"^a sweep file is a JSON object"),
    (json.dumps({"format": "chainlab/1"}), r"^format: expected \"chainlab-sweep/1\""),
    (sweep_text({}), r"^axes: a sweep needs at least one axis"),
    (sweep_text({"seed": []}), r"^axes\.seed: an axis needs at least one value"),
    (sweep_text({"norm": ["layer", "group"]}), r"^axes\.norm\.1: expected one of"),
    (sweep_text({"activation": ["swish"]}), r"^axes\.activation\.0: expected one of"),
    (sweep_text({"depth": [2, 0]}), r"^axes\.depth\.1: expected a whole number"),
    (sweep_text({"task.momentm": [0.9]}), r"^axes\.task\.momentm: unknown axis"),
    (sweep_text({"network.layers.9.out_features": [3]}), r"^axes\.network\.layers\.9\."),
    (sweep_text({"seed": [1]}, sample="all"), r"^sample: "),
    (sweep_text({"seed": [1]}, sample={"random": 0}), r"^sample\.random: "),
    (sweep_text({"seed": [1]}, extra=1), r"^extra: unknown field"),
    (json.dumps({"format": "chainlab-sweep/1", "base": "missing.json",
                 "axes": {"seed": [1]}}), r"^base: .*missing\.json"),
    (json.dumps({"format": "chainlab-sweep/1", "base": {**BASE, "seed": -1},
                 "axes": {"seed": [1]}}), r"^base\.seed: "),
])
def test_bad_sweep_files_are_refused_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(SweepError, match=message):
        parse_sweep(text)


def test_depth_refuses_a_network_not_made_of_blocks() -> None:
    base = copy.deepcopy(BASE)
    base["network"]["layers"].insert(2, {"type": "activation", "kind": "relu"})
    text = json.dumps({"format": "chainlab-sweep/1", "base": base, "axes": {"depth": [2]}})
    with pytest.raises(SweepError, match=r"^axes\.depth: the base network is not"):
        parse_sweep(text)


def test_a_base_path_is_relative_to_the_sweep_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.json").write_text(json.dumps(BASE))
    (tmp_path / "sweep.json").write_text(json.dumps(
        {"format": "chainlab-sweep/1", "base": "sub/base.json", "axes": {"seed": [4]}}))
    sweep = load_sweep(tmp_path / "sweep.json")
    assert sweep.base_dir == tmp_path / "sub"
    assert expand(sweep)[0].session.seed == 4  # type: ignore[union-attr]


def test_grad_ratio_is_first_over_last_linear_layer_including_residual_blocks() -> None:
    layers = [{"type": "linear", "grad_weight": [[3.0, 4.0]]},
              {"type": "activation"},
              {"type": "residual", "layers": [{"type": "linear", "grad_weight": [[1.0]]}]},
              {"type": "linear", "grad_weight": [[0.0, 0.5]]}]
    assert grad_ratio(layers) == pytest.approx(5.0 / 0.5)
    assert grad_ratio(layers[:1]) is None


def test_outcome_fails_on_a_non_finite_loss_or_stopped_training() -> None:
    layers = [{"type": "linear", "grad_weight": [[1.0]]}] * 2
    ok = outcome_of({"task": "train", "loss": 0.5, "layers": layers,
                     "training_stopped": None, "nonfinite": None}, 1.0)
    assert ok["status"] == "ok"
    assert ok["grad_ratio"] == 1.0
    assert ok["best_loss"] is None
    nan = outcome_of({"task": "step", "loss": math.nan, "layers": layers}, 1.0)
    assert nan["status"] == "failed"
    assert "nan" in nan["error"]
    stopped = outcome_of({"task": "train", "loss": 0.5, "layers": layers,
                          "training_stopped": "step 3: inf in layer 1"}, 1.0)
    assert stopped["error"] == "step 3: inf in layer 1"
    evolved = outcome_of({"task": "evolve", "loss": 0.5, "layers": layers,
                          "history": {"best": [0.9, 0.4]}}, 1.0)
    assert evolved["best_loss"] == 0.4
