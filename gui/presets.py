"""Named chains for the builder's preset menu."""

from __future__ import annotations

from collections.abc import Callable

from engine.core.specs import (
    ActivationSpec,
    InitSpec,
    LinearSpec,
    NetworkSpec,
    repeated_block,
    seed_example,
)


def _spiral_classifier(inputs: int) -> NetworkSpec:
    init = InitSpec(kind="xavier_uniform")
    return NetworkSpec(input_size=inputs, layers=[
        LinearSpec(out_features=16, init=init), ActivationSpec(kind="tanh"),
        LinearSpec(out_features=16, init=init), ActivationSpec(kind="tanh"),
        LinearSpec(out_features=1, init=init),
    ])


PRESETS: dict[str, Callable[[int], NetworkSpec]] = {
    "Seed example (1 → lin 0.3 → tanh → lin 0.3 → tanh)": lambda inputs: seed_example()
    .model_copy(update={"input_size": inputs}),
    "Small classifier (16-16, tanh)": _spiral_classifier,
    "Deep tanh, 30 layers, default init": lambda inputs: repeated_block(inputs, 32, 30, "tanh"),
    "Deep sigmoid, 30 layers, default init":
        lambda inputs: repeated_block(inputs, 32, 30, "sigmoid"),
    "Deep ReLU, 30 layers, Kaiming init": lambda inputs: repeated_block(
        inputs, 32, 30, "relu", init=InitSpec(kind="kaiming_normal")),
    "Deep tanh + layer norm, 30 layers": lambda inputs: repeated_block(
        inputs, 32, 30, "tanh", norm="layer"),
    "Deep tanh + batch norm, 30 layers": lambda inputs: repeated_block(
        inputs, 32, 30, "tanh", norm="batch"),
}
