"""The headless ``evolve`` task: run the GA on a session and lay out its results."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from engine.core.plots import LinePlot, Series
from engine.core.stepper import Pass
from engine.data.experiment import Experiment
from engine.data.tasks import EvolveTask
from engine.evolution.genome import genome_hex, load_genome
from engine.evolution.setup import prepare_evolution
from engine.headless.results import (
    RunOutput,
    boundary_plot,
    gradient_flow_plot,
    network_record,
    pass_result,
)


def run_evolution(experiment: Experiment, task: EvolveTask,
                  progress: Callable[[int, int], None] | None = None) -> RunOutput:
    chain, session = experiment.chain, experiment.session
    setup = prepare_evolution(chain, experiment.inputs, experiment.targets, session.loss, task,
                              session.seed)
    scales = setup.scales
    history: dict[str, list[float]] = {key: [] for key in
                                       ("best", "mean", "worst", "diversity", "seconds")}
    std, evaluations, best_genome = [], [], None
    for stats in setup.generations():
        history["best"].append(stats.best)
        history["mean"].append(stats.mean)
        history["worst"].append(stats.worst)
        history["diversity"].append(stats.diversity)
        history["seconds"].append(stats.seconds)
        std.append(stats.std)
        evaluations.append(stats.evaluations)
        best_genome = stats.best_genome
        if progress is not None:
            progress(stats.generation, task.generations)
    assert best_genome is not None
    load_genome(chain, torch.from_numpy(best_genome), scales)
    final = Pass(chain, experiment.inputs, experiment.targets, session.loss).run()
    result = {
        "format": "chainlab-result/1", "task": "evolve", "device": str(setup.device),
        "device_note": setup.device_note or None,
        "history": history,
        "network": network_record(chain),
        "genome": genome_hex(torch.from_numpy(best_genome)),
        "scales": scales,
    }
    result.update(pass_result(final))  # "loss" of the best network, ordinary forward pass
    output = RunOutput(result=result)
    generations = list(range(len(history["best"])))
    output.tables["history"] = (
        ["generation", "best", "mean", "std", "worst", "diversity", "seconds", "evaluations"],
        [[g, history["best"][g], history["mean"][g], std[g], history["worst"][g],
          history["diversity"][g], history["seconds"][g], evaluations[g]] for g in generations])
    x = np.asarray(generations, dtype=float)
    output.plots.append(LinePlot("evolution_loss", "Population loss per generation",
                                 "generation", "loss", (
                                     Series("best", x, np.asarray(history["best"])),
                                     Series("mean", x, np.asarray(history["mean"])),
                                     Series("worst", x, np.asarray(history["worst"]))),
                                 log_y=True))
    output.plots.append(LinePlot("diversity", "Population diversity", "generation",
                                 "mean pairwise Hamming distance (bits)",
                                 (Series("diversity", x, np.asarray(history["diversity"])),)))
    output.plots.append(gradient_flow_plot(output.result["layers"]))
    boundary = boundary_plot(experiment)  # of the best individual, now loaded in the chain
    if boundary is not None:
        output.plots.append(boundary)
    return output
