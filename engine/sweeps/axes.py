"""A sweep's axes: checked against the base session, then applied to it cell by cell.

An axis is a shorthand (``activation``, ``norm``, ``depth``) or a dotted path into the
session's JSON (``task.lr``, ``network.layers.0.out_features``; list indices as
numbers). One cell's values are applied shorthands first, then dotted paths, each group
in the order the sweep file writes them; the result is validated as a whole session, so
a value that makes an invalid session fails that cell with the failing field's path.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from engine.core.specs import (
    NORM_KINDS,
    ActivationKind,
    ActivationSpec,
    LayerSpec,
    LinearSpec,
    NetworkSpec,
    NormSpec,
    ResidualSpec,
)
from engine.data.norms_lab import with_norm
from engine.data.session import Session, SessionError, parse_session

SHORTHANDS = ("activation", "norm", "depth")
# A cell's network is built before anything can estimate its memory: 1e8 blocks took
# gigabytes in the layer list alone. 10 000 blocks (30 000 layers) is 50 times the
# builder's deepest and still a session a file can hold.
MAX_DEPTH = 10_000
ACTIVATIONS: tuple[str, ...] = get_args(ActivationKind)
NORMS: tuple[str, ...] = ("none", *NORM_KINDS)


class SweepError(ValueError):
    """A sweep file that cannot be used. ``path`` is the JSON path of the field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path, self.message = path, message


def check_axes(base: Session, axes: dict[str, list[Any]]) -> None:
    """Refuse unknown paths, shorthand values and a base that ``depth`` cannot reshape.

    Raises
    ------
    SweepError
        With the path ``axes.<key>`` (``axes.<key>.<i>`` for a bad value).
    """
    full = base.model_dump(mode="json")
    for key, values in axes.items():
        where = f"axes.{key}"
        if key == "activation":
            _check_values(where, values, lambda v: v in ACTIVATIONS, f"one of {ACTIVATIONS}")
        elif key == "norm":
            _check_values(where, values, lambda v: v in NORMS, f"one of {NORMS}")
        elif key == "depth":
            _check_values(where, values, lambda v: type(v) is int and 1 <= v <= MAX_DEPTH,
                          f"a whole number of blocks, from 1 to {MAX_DEPTH:,}")
            if _blocks(base.network) is None:
                raise SweepError(where, "the base network is not (linear -> [norm] -> "
                                 "activation) x d -> linear, so its depth cannot be varied")
        elif _lookup(full, key.split(".")) is None:
            raise SweepError(where, f"unknown axis: not a shorthand {SHORTHANDS} and not a "
                             "field of the base session")


def apply_values(base: Session, values: dict[str, Any]) -> Session:
    """The base session with one cell's ``values`` (axis key -> value) applied.

    Raises
    ------
    SessionError
        The cell's session is invalid; ``path`` names the failing field.
    """
    network = base.network
    for key, value in values.items():
        if key == "activation":
            network = NetworkSpec(input_size=network.input_size,
                                  layers=[_with_activation(s, value) for s in network.layers])
        elif key == "norm":
            network = with_norm(network, None if value == "none" else value)
        elif key == "depth":
            network = with_depth(network, value)
    raw = base.model_copy(update={"network": network}).model_dump(mode="json",
                                                                  exclude_none=True)
    for key, value in values.items():
        if key not in SHORTHANDS:
            _assign(raw, key, value)
    return parse_session(json.dumps(raw))


def with_depth(network: NetworkSpec, depth: int) -> NetworkSpec:
    """The network with ``depth`` copies of its first block, then its output layer.

    The copies drop explicit parameters (they are initialised from the session's seed).

    Raises
    ------
    SessionError
        The network is not (linear -> [norm] -> activation) x d -> linear.
    """
    found = _blocks(network)
    if found is None:
        raise SessionError("network.layers", "not (linear -> [norm] -> activation) x d -> "
                           "linear: its depth cannot be varied")
    block, output = found
    plain = [s.model_copy(update={"weight": None, "bias": None}) if isinstance(s, LinearSpec)
             else s.model_copy(update={"weight": None, "bias": None, "running_mean": None,
                                       "running_var": None}) if isinstance(s, NormSpec)
             else s for s in block]
    return NetworkSpec(input_size=network.input_size, layers=[*plain * depth, output])


def _blocks(network: NetworkSpec) -> tuple[list[LayerSpec], LinearSpec] | None:
    """The first block and the output layer, when the whole network is made of blocks."""
    layers = network.layers
    if len(layers) < 3 or not isinstance(layers[-1], LinearSpec):
        return None
    first: list[LayerSpec] | None = None
    index = 0
    while index < len(layers) - 1:
        kinds = [type(s) for s in layers[index:index + 3]]
        size = 3 if kinds == [LinearSpec, NormSpec, ActivationSpec] else 2
        if [type(s) for s in layers[index:index + size]] != \
                [LinearSpec, *([NormSpec] if size == 3 else []), ActivationSpec]:
            return None
        first = first or list(layers[index:index + size])
        index += size
    return (first, layers[-1]) if first else None


def _with_activation(spec: LayerSpec, kind: str) -> LayerSpec:
    if isinstance(spec, ActivationSpec):
        return ActivationSpec.model_validate({"kind": kind})
    if isinstance(spec, ResidualSpec):
        return ResidualSpec(layers=[_with_activation(s, kind) for s in spec.layers])
    return spec


def _check_values(where: str, values: list[Any], valid: Any, expected: str) -> None:
    for index, value in enumerate(values):
        if not valid(value):
            raise SweepError(f"{where}.{index}", f"expected {expected}, got {value!r}")


def _lookup(tree: Any, parts: list[str]) -> list[Any] | None:
    """``[value]`` at ``parts`` (a key whose value is null counts), None if absent."""
    for part in parts:
        if isinstance(tree, dict) and part in tree:
            tree = tree[part]
        elif isinstance(tree, list) and part.isdigit() and int(part) < len(tree):
            tree = tree[int(part)]
        else:
            return None
    return [tree]


def _assign(raw: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    tree: Any = raw
    for part in parents:
        if isinstance(tree, dict) and isinstance(tree.get(part), dict | list):
            tree = tree[part]
        elif isinstance(tree, list) and part.isdigit() and int(part) < len(tree):
            tree = tree[int(part)]
        else:
            raise SessionError(key, "no such field in this cell's session (an earlier "
                               "axis changed its shape)")
    if isinstance(tree, dict):
        tree[last] = value
    elif isinstance(tree, list) and last.isdigit() and int(last) < len(tree):
        tree[int(last)] = value
    else:
        raise SessionError(key, "no such field in this cell's session (an earlier axis "
                           "changed its shape)")
