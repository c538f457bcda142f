"""Immutable descriptions of a chain: what the session file, the builder and the engine share.

A spec says what a layer *is* (its kind, width, initialiser and, optionally, explicit
parameters); :mod:`engine.core.chain` turns specs into live layers. pydantic validates them,
so a bad session file is reported with the path of the failing field.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.core.activations import ACTIVATIONS

ActivationKind = Literal[
    "identity", "relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "softplus"
]
NormKind = Literal["batch", "layer", "rms", "l1", "l2"]
InitKind = Literal[
    "default", "uniform", "normal", "xavier_uniform", "xavier_normal",
    "kaiming_uniform", "kaiming_normal", "constant",
]
NORM_KINDS: tuple[str, ...] = ("batch", "layer", "rms", "l1", "l2")
INIT_KINDS: tuple[str, ...] = get_args(InitKind)
assert set(get_args(ActivationKind)) == set(ACTIVATIONS)


class Frozen(BaseModel):
    """Immutable, strict (no "1" or true for a number), no NaN or ±Infinity, no unknown
    fields: a session file means exactly what the published schema says."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class InitSpec(Frozen):
    """How a linear layer's parameters are drawn when they are not given explicitly.

    ``default`` is ``torch.nn.Linear``'s own. ``gain`` left out means the gain
    ``torch.nn.init.calculate_gain`` gives for the activation that follows the layer.
    Biases are zero for every kind except ``default`` and ``constant``.
    """

    kind: InitKind = "default"
    a: float = Field(0.1, gt=0, description="bound of uniform(-a, a)")
    std: float = Field(0.1, gt=0, description="sigma of normal(0, std)")
    gain: float | None = Field(None, gt=0)
    weight: float = Field(0.3, description="constant weight value")
    bias: float = Field(0.3, description="constant bias value")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        # "init": "xavier_uniform" is shorthand for {"kind": "xavier_uniform"}.
        return {"kind": value} if isinstance(value, str) else value


class LinearSpec(Frozen):
    type: Literal["linear"] = "linear"
    out_features: int = Field(gt=0, le=100_000)
    init: InitSpec = InitSpec()
    weight: list[list[float]] | None = Field(None, description="[out_features][in_features]")
    bias: list[float] | None = Field(None, description="[out_features]")


class NormSpec(Frozen):
    type: Literal["norm"] = "norm"
    kind: NormKind = "layer"
    eps: Annotated[float, Field(gt=0)] | Literal["finfo"] | None = Field(
        None, description="default 1e-5 (torch's LayerNorm and BatchNorm1d), 1e-12 for l1/l2; "
        "\"finfo\": the dtype's machine epsilon, torch.nn.RMSNorm's default")
    weight: list[float] | None = Field(None, description="affine scale (batch, layer, rms)")
    bias: list[float] | None = Field(None, description="affine shift (batch, layer)")
    momentum: float = Field(0.1, gt=0, le=1, description="batch norm: weight of each "
                            "training batch in the running statistics (torch's default)")
    running_mean: list[float] | None = Field(None, description="batch norm: running mean "
                                             "per feature (default 0)")
    running_var: list[float] | None = Field(None, description="batch norm: running "
                                            "unbiased variance per feature (default 1)")

    def resolved_eps(self, machine_epsilon: float) -> float:
        """The eps the layer uses; ``machine_epsilon`` is the chain dtype's."""
        if self.eps == "finfo":
            return machine_epsilon
        if self.eps is not None:
            return self.eps
        return 1e-12 if self.kind in ("l1", "l2") else 1e-5


class ActivationSpec(Frozen):
    type: Literal["activation"] = "activation"
    kind: ActivationKind = "tanh"


class ResidualSpec(Frozen):
    """x + f(x), f being ``layers`` in order; they must end at the width they start with."""

    type: Literal["residual"] = "residual"
    layers: list[LayerSpec] = Field(min_length=1, description="the block's own layers, f")


LayerSpec = Annotated[LinearSpec | NormSpec | ActivationSpec | ResidualSpec,
                      Field(discriminator="type")]
ResidualSpec.model_rebuild()


def walk_specs(layers: Sequence[LayerSpec], path: str = "network.layers",
               ) -> Iterator[tuple[str, LayerSpec]]:
    """Every layer spec with its JSON path, a residual block's layers right after it."""
    for index, spec in enumerate(layers):
        yield f"{path}.{index}", spec
        if isinstance(spec, ResidualSpec):
            yield from walk_specs(spec.layers, f"{path}.{index}.layers")


def _end_width(layers: Sequence[LayerSpec], width: int,
               path: str) -> tuple[int, tuple[str, str] | None]:
    for index, spec in enumerate(layers):
        if isinstance(spec, LinearSpec):
            width = spec.out_features
        elif isinstance(spec, ResidualSpec):
            inner = f"{path}.{index}.layers"
            end, error = _end_width(spec.layers, width, inner)
            if error is not None:
                return width, error
            if end != width:
                return width, (inner, f"a residual block must end at the width it starts "
                                      f"with ({width}), its layers end at {end}")
    return width, None


def _without_parameters(spec: LayerSpec) -> LayerSpec:
    if isinstance(spec, LinearSpec):
        return spec.model_copy(update={"weight": None, "bias": None})
    if isinstance(spec, NormSpec):
        return spec.model_copy(update={"weight": None, "bias": None, "running_mean": None,
                                       "running_var": None})
    if isinstance(spec, ResidualSpec):
        return spec.model_copy(update={"layers": [_without_parameters(s)
                                                  for s in spec.layers]})
    return spec


class NetworkSpec(Frozen):
    input_size: int = Field(gt=0, le=100_000)
    layers: list[LayerSpec] = Field(default_factory=list)

    def output_size(self) -> int:
        size = self.input_size
        for spec in self.layers:
            if isinstance(spec, LinearSpec):
                size = spec.out_features
        return size

    def width_error(self) -> tuple[str, str] | None:
        """``(path, message)`` of the first residual block whose layers change its width."""
        return _end_width(self.layers, self.input_size, "network.layers")[1]

    def has_parameters(self) -> bool:
        """Some layer carries explicit parameters (the rest initialise from the seed)."""
        return self != self.without_parameters()

    def without_parameters(self) -> NetworkSpec:
        """The same architecture with every explicit parameter dropped (re-initialise)."""
        return NetworkSpec(input_size=self.input_size,
                           layers=[_without_parameters(s) for s in self.layers])


def seed_example() -> NetworkSpec:
    """1 → linear(w=0.3, b=0.3) → tanh → linear(w=0.3, b=0.3) → tanh: the seed notes' chain."""
    constant = InitSpec(kind="constant", weight=0.3, bias=0.3)
    return NetworkSpec(input_size=1, layers=[
        LinearSpec(out_features=1, init=constant), ActivationSpec(kind="tanh"),
        LinearSpec(out_features=1, init=constant), ActivationSpec(kind="tanh"),
    ])


def repeated_block(input_size: int, width: int, depth: int, activation: str,
                   norm: str | None = None, output_size: int = 1,
                   init: InitSpec | None = None, residual: bool = False,
                   norm_placement: Literal["pre", "post"] = "pre") -> NetworkSpec:
    """``depth`` × (linear(width) → [norm] → activation), then a linear output layer.

    With ``residual`` a first linear layer projects the input to ``width`` and each block
    becomes a residual block x + f(x). ``norm_placement`` says where its norm goes:
    ``"pre"``, x + act(linear(norm(x))) (the norm inside, first), or ``"post"``,
    norm(x + act(linear(x))) (the norm after the block, outside it).
    """
    if norm_placement not in ("pre", "post"):
        raise ValueError(f"norm_placement is 'pre' or 'post', got {norm_placement!r}")
    init = init or InitSpec()
    layers: list[Any] = [LinearSpec(out_features=width, init=init)] if residual else []
    for _ in range(depth):
        norm_spec = [] if norm is None else [NormSpec.model_validate({"kind": norm})]
        linear = LinearSpec(out_features=width, init=init)
        act = ActivationSpec.model_validate({"kind": activation})
        if not residual:
            layers += [linear, *norm_spec, act]
        elif norm_placement == "pre":
            layers.append(ResidualSpec(layers=[*norm_spec, linear, act]))
        else:
            layers += [ResidualSpec(layers=[linear, act]), *norm_spec]
    layers.append(LinearSpec(out_features=output_size, init=init))
    return NetworkSpec(input_size=input_size, layers=layers)
