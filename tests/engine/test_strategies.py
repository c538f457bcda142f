"""OpenES and PSO over float weights, against twins written here: the float evaluator
against torch.nn forward passes, each strategy against a plain per-individual
implementation drawing the same random numbers in the documented order."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from engine.core.chain import Chain
from engine.core.specs import (
    ActivationSpec,
    LinearSpec,
    NetworkSpec,
    NormSpec,
    ResidualSpec,
)
from engine.data.experiment import build_experiment
from engine.data.session import SessionError, parse_session
from engine.data.tasks import EvolveTask, OpenESSpec, PSOSpec
from engine.evolution import openes, pso, strategy_record
from engine.evolution.genome import GenomeLayout
from engine.evolution.population import PopulationEvaluator
from engine.evolution.strategies import (
    chain_weights,
    evolve_strategy,
    fitted_scales,
    load_weights,
    prepare_strategy,
    quantise_weights,
    quantised_loss,
    quantised_losses,
)
from engine.evolution.strategy_record import StrategyGeneration
from tests.engine.helpers import (
    random_batch,
    random_residual_spec,
    random_spec,
    torch_loss,
    torch_twin,
)

CPU = torch.device("cpu")


class Twin:
    """Per-individual losses from a torch.nn twin of the chain: the weights go into its
    nn.Linear modules one by one, in module order (= the genome's)."""

    def __init__(self, chain: Chain, x: torch.Tensor, y: torch.Tensor, loss: str) -> None:
        self.model = torch_twin(chain)
        self.linears = [m for m in self.model.modules() if isinstance(m, torch.nn.Linear)]
        self.x, self.y, self.loss = x, y, loss

    def __call__(self, weights: torch.Tensor) -> float:
        at = 0
        with torch.no_grad():
            for linear in self.linears:
                size = linear.weight.numel()
                linear.weight.copy_(weights[at:at + size].view_as(linear.weight))
                at += size
                linear.bias.copy_(weights[at:at + linear.out_features])
                at += linear.out_features
            assert at == len(weights)
            value = float(torch_loss(self.loss, self.model(self.x), self.y))
        return math.inf if math.isnan(value) else value

    def alpha(self, scales: list[float]) -> torch.Tensor:
        """α of each genome position, from the modules' shapes."""
        return torch.cat([torch.full((linear.weight.numel() + linear.out_features,), alpha,
                                     dtype=self.x.dtype)
                          for linear, alpha in zip(self.linears, scales, strict=True)])


def problem(seed: int, residual: bool = False, loss: str = "bce_with_logits",
            dtype: str = "float64") -> tuple[Chain, PopulationEvaluator, Twin, list[float]]:
    rng = np.random.default_rng(seed)
    spec = random_residual_spec(rng, 12) if residual else random_spec(rng, 12)
    chain = Chain(spec, dtype, torch.Generator().manual_seed(seed))
    x, y = random_batch(rng, chain, loss, 12)
    linear_count = len(GenomeLayout.of(chain).layers)
    scales = [float(s) for s in rng.uniform(0.5, 2.0, linear_count)]
    evaluator = PopulationEvaluator(chain, x, y, loss, scales, CPU)
    return chain, evaluator, Twin(chain, x, y, loss), scales


def spiral_net() -> NetworkSpec:
    return NetworkSpec(input_size=2, layers=[
        LinearSpec(out_features=5), NormSpec(kind="layer"), ActivationSpec(kind="tanh"),
        ResidualSpec(layers=[LinearSpec(out_features=5), ActivationSpec(kind="relu")]),
        LinearSpec(out_features=1)])


# --- the float evaluator -----------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("loss", ["bce_with_logits", "mse", "cross_entropy"])
def test_float_losses_equal_a_torch_forward_per_individual(seed: int, loss: str) -> None:
    _, evaluator, twin, _ = problem(seed, residual=seed % 2 == 1, loss=loss)
    weights = torch.randn(5, evaluator.layout.size, dtype=torch.float64,
                          generator=torch.Generator().manual_seed(seed))
    batched = evaluator.losses_from_weights(weights)
    for row in range(len(weights)):
        assert float(batched[row]) == pytest.approx(twin(weights[row]), rel=1e-10, abs=1e-13)


def test_float_losses_with_norm_and_residual_in_float32() -> None:
    chain = Chain(spiral_net(), "float32", torch.Generator().manual_seed(0))
    x, y = random_batch(np.random.default_rng(0), chain, "bce_with_logits", 40)
    evaluator = PopulationEvaluator(chain, x, y, "bce_with_logits", [1.0] * 3, CPU)
    weights = torch.randn(300, evaluator.layout.size,
                          generator=torch.Generator().manual_seed(1))
    evaluator.chunk = 7  # several chunks, the last one short
    batched = evaluator.losses_from_weights(weights)
    twin = Twin(chain, x, y, "bce_with_logits")
    for row in (0, 6, 7, 150, 299):
        assert float(batched[row]) == pytest.approx(twin(weights[row]), rel=1e-5)


def test_float_losses_leave_the_code_path_alone() -> None:
    _, evaluator, _, _ = problem(3)
    codes = torch.randint(0, 16, (9, evaluator.layout.size), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    before = evaluator.losses(codes)
    evaluator.losses_from_weights(torch.randn(9, evaluator.layout.size, dtype=torch.float64))
    assert torch.equal(evaluator.losses(codes), before)


def test_chain_weights_round_trip_and_loss() -> None:
    chain, evaluator, twin, _ = problem(5, residual=True)
    weights = chain_weights(chain)
    assert float(evaluator.losses_from_weights(weights[None])[0]) == pytest.approx(
        twin(weights), rel=1e-10)
    other = torch.randn(len(weights), dtype=torch.float64)
    load_weights(chain, other.numpy())
    assert torch.equal(chain_weights(chain), other)
    with pytest.raises(ValueError, match="expected"):
        load_weights(chain, other[:-1])


# --- the twins -------------------------------------------------------------------------

def twin_openes(twin: Twin, task: EvolveTask, seed: int, scales: list[float],
                start: torch.Tensor | None = None) -> Iterator[dict]:
    """OpenES written out plainly: loops over the population, one forward each."""
    settings, n = task.openes, task.population
    dtype = twin.x.dtype
    generator = torch.Generator().manual_seed(seed)
    size = len(twin.alpha(scales))
    if start is None:
        theta = twin.alpha(scales) * (2 * torch.rand(size, generator=generator,
                                                     dtype=dtype) - 1)
    else:
        theta = start.clone()
    m = torch.zeros(size, dtype=dtype)
    v = torch.zeros(size, dtype=dtype)
    best, best_weights = math.inf, None
    for generation in range(task.generations + 1):
        z = torch.randn(n // 2, size, generator=generator, dtype=dtype)
        noise = [z[i] for i in range(n // 2)] + [-z[i] for i in range(n // 2)]
        people = [theta + settings.sigma * e for e in noise]
        center = twin(theta)
        losses = [twin(p) for p in people]
        for loss, weights in [(center, theta), *zip(losses, people, strict=True)]:
            if best_weights is None or loss < best:
                best, best_weights = loss, weights.clone()
        yield {"best": best, "center": center, "losses": losses, "weights": best_weights}
        order = sorted(range(n), key=lambda i: (losses[i], i))
        shaped = [0.0] * n
        for rank, i in enumerate(order):
            shaped[i] = rank / (n - 1) - 0.5
        gradient = torch.zeros(size, dtype=dtype)
        for i in range(n):
            gradient += shaped[i] * noise[i]
        gradient /= n * settings.sigma
        if settings.optimizer == "sgd":
            theta = theta - settings.lr * gradient
            continue
        t = generation + 1
        m = 0.9 * m + 0.1 * gradient
        v = 0.999 * v + 0.001 * gradient**2
        m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
        theta = theta - settings.lr * m_hat / (v_hat.sqrt() + 1e-8)


def twin_pso(twin: Twin, task: EvolveTask, seed: int, scales: list[float],
             start: torch.Tensor | None = None) -> Iterator[dict]:
    """Global-best PSO written out plainly, particle by particle."""
    s, n = task.pso, task.population
    dtype = twin.x.dtype
    alpha = twin.alpha(scales)
    generator = torch.Generator().manual_seed(seed)
    spread = 2 * torch.rand(n, len(alpha), generator=generator, dtype=dtype) - 1
    centre = torch.zeros(len(alpha), dtype=dtype) if start is None else start
    x = [centre + s.init_range * alpha * spread[i] for i in range(n)]
    if start is not None:
        x[0] = start.clone()
    velocity_draws = 2 * torch.rand(n, len(alpha), generator=generator, dtype=dtype) - 1
    vmax = s.max_velocity * alpha
    v = [velocity_draws[i] * vmax for i in range(n)]
    losses = [twin(p) for p in x]
    personal, personal_losses = [p.clone() for p in x], list(losses)
    for generation in range(task.generations + 1):
        g = min(range(n), key=lambda i: (personal_losses[i], i))
        yield {"best": personal_losses[g], "losses": list(losses),
               "weights": personal[g].clone()}
        if generation == task.generations:
            return
        r1 = torch.rand(n, len(alpha), generator=generator, dtype=dtype)
        r2 = torch.rand(n, len(alpha), generator=generator, dtype=dtype)
        swarm_best = personal[g]
        for i in range(n):
            velocity = (s.inertia * v[i] + s.cognitive * r1[i] * (personal[i] - x[i])
                        + s.social * r2[i] * (swarm_best - x[i]))
            v[i] = torch.clamp(velocity, -vmax, vmax)
            x[i] = x[i] + v[i]
            losses[i] = twin(x[i])
            if losses[i] < personal_losses[i]:
                personal[i], personal_losses[i] = x[i].clone(), losses[i]


def assert_matches(records: list[StrategyGeneration], expected: list[dict],
                   rel: float) -> None:
    assert len(records) == len(expected)
    for record, twin in zip(records, expected, strict=True):
        losses = torch.tensor(twin["losses"], dtype=torch.float64)
        finite = losses[torch.isfinite(losses)]
        assert record.best == pytest.approx(twin["best"], rel=rel, abs=1e-12)
        assert record.generation_best == pytest.approx(float(losses.min()), rel=rel, abs=1e-12)
        assert record.mean == pytest.approx(float(finite.mean()), rel=rel, abs=1e-12)
        assert record.worst == pytest.approx(float(losses.max()), rel=rel, abs=1e-12)
        if "center" in twin:
            assert record.center == pytest.approx(twin["center"], rel=rel, abs=1e-12)
        np.testing.assert_allclose(record.best_weights, twin["weights"].numpy(), rtol=rel,
                                   atol=1e-10)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_openes_matches_its_twin(seed: int, optimizer: str) -> None:
    _, evaluator, twin, scales = problem(10 + seed, residual=seed >= 2,
                                         loss=["bce_with_logits", "mse"][seed % 2])
    task = EvolveTask(algorithm="openes", population=6 + 2 * seed, generations=6,
                      openes=OpenESSpec(sigma=0.2, lr=0.1, optimizer=optimizer))
    records = list(openes.evolve(evaluator, task, seed))
    assert [r.generation for r in records] == list(range(7))
    assert [r.evaluations for r in records] == [(g + 1) * (task.population + 1)
                                                for g in range(7)]
    assert_matches(records, list(twin_openes(twin, task, seed, scales)), rel=1e-8)


@pytest.mark.parametrize("seed", range(4))
def test_pso_matches_its_twin(seed: int) -> None:
    _, evaluator, twin, scales = problem(20 + seed, residual=seed >= 2,
                                         loss=["cross_entropy", "bce_with_logits"][seed % 2])
    task = EvolveTask(algorithm="pso", population=5 + seed, generations=6,
                      pso=PSOSpec(inertia=0.6, cognitive=1.2, social=1.8, init_range=1.5,
                                  max_velocity=0.3))
    records = list(pso.evolve(evaluator, task, seed))
    assert [r.evaluations for r in records] == [(g + 1) * task.population for g in range(7)]
    assert all(r.center is None for r in records)
    assert_matches(records, list(twin_pso(twin, task, seed, scales)), rel=1e-8)


@pytest.mark.parametrize("algorithm", ["openes", "pso"])
def test_a_start_is_the_first_mean_or_particle(algorithm: str) -> None:
    chain, evaluator, twin, scales = problem(31, residual=True)
    start = chain_weights(chain)
    task = EvolveTask(algorithm=algorithm, population=6, generations=3)
    records = list(evolve_strategy(evaluator, task, 4, start=start))
    runner = twin_openes if algorithm == "openes" else twin_pso
    assert_matches(records, list(runner(twin, task, 4, scales, start=start)), rel=1e-8)
    assert records[0].best <= twin(start)


def test_float32_run_matches_its_twin() -> None:
    _, evaluator, twin, scales = problem(40, dtype="float32")
    task = EvolveTask(algorithm="openes", population=8, generations=4)
    records = list(openes.evolve(evaluator, task, 1))
    assert records[-1].best_weights.dtype == np.float32
    assert_matches(records, list(twin_openes(twin, task, 1, scales)), rel=1e-4)


# --- determinism, learning, limits ------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["openes", "pso"])
def test_same_seed_same_history(algorithm: str) -> None:
    _, evaluator, _, _ = problem(7, residual=True)
    task = EvolveTask(algorithm=algorithm, population=10, generations=8)

    def history(seed: int) -> list[tuple]:
        return [(r.best, r.generation_best, r.mean, r.std, r.worst, r.center,
                 r.best_weights.tobytes()) for r in evolve_strategy(evaluator, task, seed)]

    assert history(3) == history(3)
    assert history(3) != history(4)


def spiral_evaluator(dtype: str = "float32") -> tuple[Chain, PopulationEvaluator]:
    from engine.core.losses import prepare_targets
    from engine.data.datasets import make_dataset

    spec = NetworkSpec(input_size=2, layers=[
        LinearSpec(out_features=16), ActivationSpec(kind="tanh"),
        LinearSpec(out_features=16), ActivationSpec(kind="tanh"), LinearSpec(out_features=1)])
    chain = Chain(spec, dtype, torch.Generator().manual_seed(0))
    dataset = make_dataset("spiral", 256, 0.0, seed=0)
    x = torch.tensor(dataset.inputs, dtype=chain.dtype)
    y = prepare_targets("bce_with_logits", torch.tensor(
        dataset.targets_for("bce_with_logits"), dtype=chain.dtype), 1)
    return chain, PopulationEvaluator(chain, x, y, "bce_with_logits", [1.0] * 3, CPU)


@pytest.mark.parametrize("algorithm", ["openes", "pso"])
def test_default_settings_learn_the_spirals(algorithm: str) -> None:
    """30 generations of 100 on the common task (2-16-16-1 tanh, 256 points) with the
    default settings: the best loss falls well below the first generation's."""
    _, evaluator = spiral_evaluator()
    task = EvolveTask(algorithm=algorithm, population=100, generations=30)
    records = list(evolve_strategy(evaluator, task, 0))
    first, last = records[0].best, records[-1].best
    assert last < 0.75 * first, (first, last)
    assert all(b.best <= a.best for a, b in itertools.pairwise(records))


def test_openes_refuses_an_odd_population() -> None:
    _, evaluator, _, _ = problem(1)
    with pytest.raises(ValueError, match="even"):
        next(openes.evolve(evaluator, EvolveTask(algorithm="openes", population=7), 0))


def test_dispatch_refuses_the_ga() -> None:
    _, evaluator, _, _ = problem(1)
    with pytest.raises(ValueError, match="not a float strategy"):
        evolve_strategy(evaluator, EvolveTask(), 0)


def test_generations_zero_runs_until_stopped() -> None:
    _, evaluator, _, _ = problem(2)
    task = EvolveTask(algorithm="pso", population=4, generations=3)
    records = evolve_strategy(evaluator, task, 0, generations=0)
    assert [next(records).generation for _ in range(6)] == list(range(6))


def test_nan_losses_count_as_worst() -> None:
    """A weight set whose loss is NaN ranks last and never becomes the best."""
    chain, evaluator = spiral_evaluator()
    start = chain_weights(chain)
    start[0] = math.nan  # every perturbation of the mean is NaN too
    records = list(openes.evolve(evaluator, EvolveTask(algorithm="openes", population=4,
                                                       generations=1), 0, start=start))
    assert math.isinf(records[0].best)
    assert math.isinf(records[0].worst)
    assert records[0].mean == math.inf


# --- settings --------------------------------------------------------------------------

SESSION = {"format": "chainlab/1", "network": {"input_size": 2, "layers": [
    {"type": "linear", "out_features": 4}, {"type": "activation", "kind": "tanh"},
    {"type": "linear", "out_features": 1}]},
    "data": {"dataset": "spiral", "samples": 16}, "loss": "bce_with_logits"}


def session_with(**task: object) -> str:
    return json.dumps({**SESSION, "task": {"kind": "evolve", **task}})


@pytest.mark.parametrize(("task", "expected"), [
    ({"algorithm": "cmaes"}, "task.algorithm"),
    ({"algorithm": "openes", "population": 21}, "task.population: OpenES evaluates "
     "perturbations in antithetic pairs"),
    ({"algorithm": "pso", "islands": 2}, "task.islands: islands are for the GA only"),
    ({"algorithm": "openes", "islands": 3}, "task.islands"),
    ({"algorithm": "openes", "openes": {"sigma": 0}}, "task.openes.sigma"),
    ({"algorithm": "openes", "openes": {"lr": -1}}, "task.openes.lr"),
    ({"algorithm": "openes", "openes": {"optimizer": "rmsprop"}}, "task.openes.optimizer"),
    ({"algorithm": "pso", "pso": {"inertia": -0.1}}, "task.pso.inertia"),
    ({"algorithm": "pso", "pso": {"cognitive": 11}}, "task.pso.cognitive"),
    ({"algorithm": "pso", "pso": {"social": "1"}}, "task.pso.social"),
    ({"algorithm": "pso", "pso": {"init_range": 0}}, "task.pso.init_range"),
    ({"algorithm": "pso", "pso": {"max_velocity": 0}}, "task.pso.max_velocity"),
    ({"algorithm": "pso", "pso": {"swarm": 3}}, "task.pso.swarm: unknown field"),
    ({"algorithm": "pso", "scales": [1.0, 2.0, 3.0]}, "task.scales"),
])
def test_bad_settings_are_refused_with_the_field(task: dict, expected: str) -> None:
    with pytest.raises(SessionError) as error:
        parse_session(session_with(**task))
    assert expected in str(error.value)


def test_float_methods_ignore_the_ga_settings() -> None:
    """elite, tournament size and migration mean nothing to OpenES and PSO."""
    for algorithm in ("openes", "pso"):
        session = parse_session(session_with(algorithm=algorithm, population=2, elite=2,
                                             tournament_size=9,
                                             migration={"every": 1, "count": 5}))
        assert isinstance(session.task, EvolveTask)
        assert session.task.algorithm == algorithm
    default = parse_session(session_with()).task
    assert isinstance(default, EvolveTask)
    assert default.algorithm == "ga"


def test_prepare_strategy_seeds_from_the_network() -> None:
    session = parse_session(session_with(algorithm="openes", population=4, generations=2,
                                         seed_from_network=True))
    experiment = build_experiment(session)
    task = session.task
    assert isinstance(task, EvolveTask)
    setup = prepare_strategy(experiment.chain, experiment.inputs, experiment.targets,
                             session.loss, task, session.seed)
    assert setup.start is not None
    assert torch.equal(setup.start, chain_weights(experiment.chain))
    first = next(setup.generations())
    twin = Twin(experiment.chain, experiment.inputs, experiment.targets, session.loss)
    assert first.center == pytest.approx(twin(setup.start), rel=1e-6)
    unseeded = prepare_strategy(experiment.chain, experiment.inputs, experiment.targets,
                                session.loss, task.model_copy(update={
                                    "seed_from_network": False}), session.seed)
    assert unseeded.start is None


# --- the 4-bit comparison ---------------------------------------------------------------

def nearest_on_grid(value: float, alpha: float) -> float:
    """By brute force over the 15 levels; ties go to the smaller magnitude, the sign
    follows the value's (the grid's definition in docs/evolution.md)."""
    levels = [0.0] + [alpha * 2.0**-e for e in range(6, -1, -1)]
    magnitude = min(levels, key=lambda level: (abs(abs(value) - level), level))
    return math.copysign(magnitude, value)


def test_quantised_loss_is_the_loss_of_the_nearest_grid_values() -> None:
    _chain, evaluator, twin, scales = problem(50, residual=True)
    weights = torch.randn(3, evaluator.layout.size, dtype=torch.float64,
                          generator=torch.Generator().manual_seed(2)) * 1.5
    weights[1, 3] = math.inf
    alpha = twin.alpha(scales)
    losses = quantised_losses(evaluator, weights)
    for row in (0, 2):
        snapped = torch.tensor([nearest_on_grid(float(w), float(a))
                                for w, a in zip(weights[row], alpha, strict=True)],
                               dtype=torch.float64)
        assert float(losses[row]) == pytest.approx(twin(snapped), rel=1e-10)
    assert math.isnan(float(losses[1]))
    # one weight set alone, or the third of three: torch's elementwise exp and log1p take
    # a scalar path for a tensor's last few elements, so the last bit may differ
    assert quantised_loss(evaluator, weights[2].numpy()) == pytest.approx(
        float(losses[2]), rel=4 * 2.0 ** -52)


def test_quantised_loss_at_other_scales_and_through_the_codes() -> None:
    """Any α works with the same evaluator, and the snapped values lose what the GA's
    own code path says their codes lose."""
    _, evaluator, twin, scales = problem(51, residual=True)
    weights = torch.randn(2, evaluator.layout.size, dtype=torch.float64,
                          generator=torch.Generator().manual_seed(3)) * 3
    fitted = fitted_scales(weights[0], evaluator.layout)
    at = 0
    for linear, alpha in zip(twin.linears, fitted, strict=True):
        size = linear.weight.numel() + linear.out_features
        assert alpha == float(weights[0, at:at + size].abs().max())
        at += size
    snapped = torch.tensor([nearest_on_grid(float(w), float(a)) for w, a in
                            zip(weights[0], twin.alpha(fitted), strict=True)],
                           dtype=torch.float64)
    assert quantised_loss(evaluator, weights[0], fitted) == pytest.approx(twin(snapped),
                                                                          rel=1e-10)
    codes = quantise_weights(weights, evaluator.layout, scales)
    assert torch.allclose(quantised_losses(evaluator, weights), evaluator.losses(codes),
                          rtol=1e-12)


def test_a_record_keeps_nan_and_inf_losses_out_of_the_mean() -> None:
    """NaN and inf losses are the worst (inf), never part of the mean or spread."""
    losses = strategy_record.finite_losses(
        torch.tensor([1.0, math.nan, 3.0, math.inf], dtype=torch.float64))
    best = strategy_record.BestSoFar(2, torch.float64, torch.device("cpu"))
    best.offer(losses, torch.arange(8, dtype=torch.float64).view(4, 2))
    generation = strategy_record.record(1, best, losses, 0.0, 4)
    assert (generation.best, generation.generation_best, generation.worst) == (1.0, 1.0, math.inf)
    assert (generation.mean, generation.std) == (2.0, pytest.approx(math.sqrt(2), rel=1e-15))
