"""A chain of layers: the engine's ``torch.nn.Sequential``."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from engine.core.init import initialise
from engine.core.layers import Activation, Context, Layer, Linear, Norm
from engine.core.residual import Residual, walk
from engine.core.specs import (
    ActivationSpec,
    LayerSpec,
    LinearSpec,
    NetworkSpec,
    NormSpec,
    ResidualSpec,
)

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}


class SpecError(ValueError):
    """A spec that cannot be built; ``path`` points at the offending field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path, self.message = path, message


class Chain:
    """An ordered list of layers built from a :class:`NetworkSpec`.

    Parameters
    ----------
    spec : NetworkSpec
        Architecture, initialisers and any explicit parameters.
    dtype : str
        ``"float32"`` or ``"float64"``.
    generator : torch.Generator
        Source of randomness for initialisers; layers draw from it in order.
    """

    def __init__(self, spec: NetworkSpec, dtype: str, generator: torch.Generator) -> None:
        self.spec = spec
        self.dtype_name = dtype
        self.dtype = DTYPES[dtype]
        self.input_size = spec.input_size
        mismatch = spec.width_error()
        if mismatch is not None:
            raise SpecError(*mismatch)
        self.layers = self._build_all(spec.layers, spec.input_size, "network.layers",
                                      generator)
        width = spec.input_size
        for layer in self.layers:
            width = layer.out_features(width)
        self.output_size = width

    def _build_all(self, specs: Sequence[LayerSpec], width: int, path: str,
                   generator: torch.Generator) -> list[Layer]:
        layers: list[Layer] = []
        for index, layer_spec in enumerate(specs):
            layer = self._build(layer_spec, width, f"{path}.{index}",
                                _next_activation(specs, index), generator)
            layers.append(layer)
            width = layer.out_features(width)
        return layers

    def _build(self, spec: LayerSpec, width: int, path: str, next_activation: str | None,
               generator: torch.Generator) -> Layer:
        if isinstance(spec, LinearSpec):
            linear = Linear(width, spec.out_features, self.dtype)
            initialise(linear.params["weight"], linear.params["bias"], spec.init,
                       next_activation, generator)
            _assign(linear, "weight", spec.weight, (spec.out_features, width), path)
            _assign(linear, "bias", spec.bias, (spec.out_features,), path)
            return linear
        if isinstance(spec, NormSpec):
            layer = Norm(spec.kind, width, spec.resolved_eps(torch.finfo(self.dtype).eps),
                         self.dtype, spec.momentum)
            for name, values in (("weight", spec.weight), ("bias", spec.bias),
                                 ("running_mean", spec.running_mean),
                                 ("running_var", spec.running_var)):
                if values is not None and name not in {**layer.params, **layer.buffers}:
                    what = "running statistics" if name.startswith("running") else \
                        f"affine {name}"
                    raise SpecError(f"{path}.{name}", f"{spec.kind} norm has no {what}")
                _assign(layer, name, values, (width,), path)
            return layer
        if isinstance(spec, ActivationSpec):
            return Activation(spec.kind)
        if isinstance(spec, ResidualSpec):
            return Residual(self._build_all(spec.layers, width, f"{path}.layers", generator))
        raise SpecError(path, f"unknown layer {spec!r}")  # pragma: no cover

    def walk(self) -> list[tuple[str, Layer]]:
        """Every layer with its module path ("3", "2.body.0"), residual blocks' layers
        included, in the order of :meth:`parameters`."""
        return list(walk(self.layers))

    def linear_layers(self) -> list[tuple[str, Linear]]:
        """Every linear layer, residual blocks' included, with its module path (its
        parameters are ``f"{path}.weight"`` and ``f"{path}.bias"``)."""
        return [(path, layer) for path, layer in walk(self.layers)
                if isinstance(layer, Linear)]

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs for ``x`` in eval mode (batch norm on its running statistics)."""
        with torch.no_grad():
            for layer in self.layers:
                x = layer.infer(x)
        return x

    def parameters(self) -> list[tuple[str, torch.Tensor]]:
        """``(name, tensor)`` pairs named as ``torch.nn.Sequential.named_parameters``."""
        return [(f"{i}.{name}", tensor) for i, layer in enumerate(self.layers)
                for name, tensor in layer.params.items()]

    def buffers(self) -> list[tuple[str, torch.Tensor]]:
        """``(name, tensor)`` pairs named as ``torch.nn.Sequential.named_buffers`` (batch
        norm's running statistics; torch's ``num_batches_tracked`` is not kept)."""
        return [(f"{i}.{name}", tensor) for i, layer in enumerate(self.layers)
                for name, tensor in layer.buffers.items()]

    def set_parameters(self, tensors: list[torch.Tensor]) -> None:
        """Replace every parameter, in the order of :meth:`parameters`."""
        slots = [(layer, name) for layer in self.layers for name in layer.params]
        if len(tensors) != len(slots):
            raise ValueError(f"expected {len(slots)} tensors, got {len(tensors)}")
        for (layer, name), tensor in zip(slots, tensors, strict=True):
            layer.set_param(name, tensor)

    def load_state(self, other: Chain) -> None:
        """Take ``other``'s parameters and running statistics (the same architecture)."""
        for mine, theirs in zip(self.layers, other.layers, strict=True):
            for name, tensor in {**theirs.params, **theirs.buffers}.items():
                mine.set_param(name, tensor)

    def track(self, contexts: list[Context | None]) -> None:
        """Commit a training pass's batch statistics to batch norm's running estimates."""
        for layer, context in zip(self.layers, contexts, strict=True):
            if context is not None:
                layer.track(context)

    def copy(self) -> Chain:
        """An independent chain: same spec, copied tensors (a worker trains its own)."""
        twin = object.__new__(Chain)
        twin.__dict__.update(self.__dict__)
        twin.layers = [layer.copy() for layer in self.layers]
        return twin

    def to_spec(self) -> NetworkSpec:
        """The architecture with every current parameter and running statistic written out."""
        return NetworkSpec(input_size=self.input_size,
                           layers=_with_values(self.spec.layers, self.layers))

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Chain(\n{inner}\n)"


def _next_activation(specs: Sequence[LayerSpec], index: int) -> str | None:
    """The activation a linear layer's initial gain is for: the next one among its
    siblings, unless another linear layer or a residual block comes first."""
    for spec in specs[index + 1:]:
        if isinstance(spec, ActivationSpec):
            return spec.kind
        if isinstance(spec, LinearSpec | ResidualSpec):
            return None
    return None


def _with_values(specs: Sequence[LayerSpec], layers: Sequence[Layer]) -> list[LayerSpec]:
    """``specs`` with the layers' current parameters and running statistics written in."""
    written: list[LayerSpec] = []
    for spec, layer in zip(specs, layers, strict=True):
        if isinstance(spec, ResidualSpec) and isinstance(layer, Residual):
            spec = spec.model_copy(update={"layers": _with_values(spec.layers,
                                                                  layer.layers)})
        elif layer.params or layer.buffers:
            values = {name: t.tolist() for name, t in {**layer.params,
                                                        **layer.buffers}.items()}
            spec = spec.model_copy(update=values)
        written.append(spec)
    return written


def _assign(layer: Layer, name: str, values: object, shape: tuple[int, ...],
            path: str) -> None:
    if values is None:
        return
    current = layer.params.get(name, layer.buffers.get(name))
    assert current is not None
    try:
        tensor = torch.tensor(values, dtype=current.dtype)
    except (TypeError, ValueError):  # ragged nested lists
        raise SpecError(f"{path}.{name}", f"expected shape {list(shape)}, got a ragged "
                        "list") from None
    if tuple(tensor.shape) != shape:
        raise SpecError(f"{path}.{name}", f"expected shape {list(shape)}, "
                        f"got {list(tensor.shape)}")
    layer.set_param(name, tensor)
