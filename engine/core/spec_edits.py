"""Whole-chain edits of a network's specs that the builder offers in one click: every
activation of one kind, one norm kind in every residual block, and which norm kind a
chain has. Pure functions of the specs; residual blocks' inner layers included."""

from __future__ import annotations

from engine.core.specs import (
    ActivationSpec,
    LayerSpec,
    NetworkSpec,
    NormSpec,
    ResidualSpec,
    walk_specs,
)


def with_activation(layers: list[LayerSpec], kind: str) -> list[LayerSpec]:
    """``layers`` with every activation, those inside residual blocks too, of ``kind``."""
    changed: list[LayerSpec] = []
    for spec in layers:
        if isinstance(spec, ActivationSpec):
            spec = spec.model_copy(update={"kind": kind})
        elif isinstance(spec, ResidualSpec):
            spec = spec.model_copy(update={"layers": with_activation(spec.layers, kind)})
        changed.append(spec)
    return changed


def with_block_norms(layers: list[LayerSpec], kind: str | None) -> list[LayerSpec]:
    """Every residual block normalised first (x + f(norm(x))), nested blocks too; norms
    outside the blocks (post-norm placement) removed. A block's first norm is kept as it
    was when it is of ``kind`` already (its eps and parameters). ``kind`` None: no norms
    at all."""
    changed: list[LayerSpec] = []
    for spec in layers:
        if isinstance(spec, NormSpec):
            continue
        if isinstance(spec, ResidualSpec):
            first = spec.layers[0] if spec.layers else None
            inner = with_block_norms(list(spec.layers), kind)
            if kind is not None:
                kept = first if isinstance(first, NormSpec) and first.kind == kind else None
                inner.insert(0, kept or NormSpec.model_validate({"kind": kind}))
            spec = spec.model_copy(update={"layers": inner})
        changed.append(spec)
    return changed


def chain_norm_kind(network: NetworkSpec) -> str | None:
    """The one norm kind every norm of the chain has ("none" without norms), None when
    they differ."""
    kinds = {spec.kind for _, spec in walk_specs(network.layers) if isinstance(spec, NormSpec)}
    if not kinds:
        return "none"
    return kinds.pop() if len(kinds) == 1 else None
