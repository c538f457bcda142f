"""The selected layer's numbers, written out as the chain rule (HTML for the details pane).

Every number printed here is taken from the engine's :class:`LayerRecord`; the products
are the engine's results, shown beside their factors, never recomputed here.
"""

from __future__ import annotations

import html

import numpy as np

from engine.core.stepper import LayerRecord

MAX_UNITS = 4


def fmt(value: float) -> str:
    """4 significant digits with a true minus sign; never "−0" (a product that is zero
    prints 0 whatever the signs of its factors)."""
    if not np.isfinite(value):
        return "NaN" if np.isnan(value) else ("∞" if value > 0 else "−∞")
    text = f"{value:.4g}"
    if float(text) == 0:
        return "0"
    return text.replace("-", "−")


def vector(values: np.ndarray) -> str:
    flat = np.asarray(values).reshape(-1)
    shown = ", ".join(fmt(v) for v in flat[:MAX_UNITS])
    more = f", … ({flat.size} values)" if flat.size > MAX_UNITS else ""
    return f"[{shown}{more}]" if flat.size != 1 else shown


def _row(name: str, value: str) -> str:
    return f"<tr><td><b>{html.escape(name)}</b></td><td>{value}</td></tr>"


def _residual_html(record: LayerRecord, upstream: np.ndarray, grad_in: np.ndarray) -> str:
    """y = x + f(x): the gradient reaches x twice, straight along the identity path and
    through the block's layers; the engine's records give both terms."""
    steps = " → ".join({"linear": "linear", "norm": f"{inner.kind} norm"}.get(
        inner.type, inner.kind) for inner in record.inner)
    first = record.inner[0] if record.inner else None
    through = first.grad_input[0] if first is not None and first.grad_input is not None \
        else None
    lines = [f"<p><b>Residual block</b>: y = x + f(x), f = {html.escape(steps)}.</p>",
             "<p><b>Chain rule</b>: dL/dx = dL/dy (the identity path) + dL/dx through f "
             "(the layers): the gradient always gets past the block, whatever f does to "
             "it.</p><ul>"]
    if through is not None:
        for unit in range(min(MAX_UNITS, upstream.size)):
            term = float(through[unit])
            plus = f"+ {fmt(term)}" if term >= 0 else f"− {fmt(-term)}"
            lines.append(f"<li>dL/dx<sub>{unit}</sub> = {fmt(upstream[unit])} {plus} = "
                         f"<b>{fmt(grad_in[unit])}</b></li>")
    lines.append("</ul>")
    return "".join(lines)


def layer_html(record: LayerRecord, batch: int) -> str:
    """Forward values, backward values and the chain-rule products of one layer (sample 0)."""
    title = f"Layer {record.index} · {record.type}" + (
        f" ({record.kind})" if record.kind != record.type and record.type != "linear" else "")
    note = f"sample 0 of {batch}" if batch > 1 else "the single sample"
    parts = [f"<h3>{html.escape(title)}</h3><p><i>{note}</i></p><table cellspacing=4>"]
    has_input = record.input.size > 0
    has_output = record.output.size > 0
    x = record.input[0] if has_input else None
    y = record.output[0] if has_output else None
    in_name, out_name = {"activation": ("z", "a"), "linear": ("x", "y")}.get(record.type,
                                                                           ("x", "y"))
    if x is not None:
        parts.append(_row(f"input {in_name}", vector(x)))
    if y is not None:
        parts.append(_row(f"output {out_name}", vector(y)))
    if record.grad_output is None:
        parts.append("</table><p>Backward pass has not reached this layer.</p>")
        return "".join(parts)
    upstream = record.grad_output[0]
    parts.append(_row(f"upstream dL/d{out_name}", vector(upstream)))
    if record.grad_input is None:
        parts.append("</table><p>Step backward to propagate through this layer.</p>")
        return "".join(parts)
    grad_in = record.grad_input[0]
    if record.type == "activation" and record.local is not None:
        local = record.local[0]
        parts.append(_row("local f′(z)", vector(local)))
        parts.append("</table><p><b>Chain rule</b> (elementwise):</p><ul>")
        for unit in range(min(MAX_UNITS, upstream.size)):
            parts.append(
                f"<li>dL/dz<sub>{unit}</sub> = dL/da × f′(z) = {fmt(upstream[unit])} × "
                f"{fmt(local[unit])} = <b>{fmt(grad_in[unit])}</b></li>")
        parts.append("</ul>")
    elif record.type == "linear":
        weight, grad_weight = record.params["weight"], record.grads.get("weight")
        parts.append(_row("weight W", vector(weight)))
        parts.append(_row("dL/dx = Wᵀ · dL/dy", vector(grad_in)))
        parts.append("</table>")
        if grad_weight is not None and x is not None:
            parts.append("<p><b>Chain rule</b>: dL/dW<sub>jk</sub> = Σ<sub>samples</sub> "
                         "dL/dy<sub>j</sub> × x<sub>k</sub></p><ul>")
            if batch == 1:
                for j in range(min(2, upstream.size)):
                    for k in range(min(2, x.size)):
                        parts.append(f"<li>dL/dW<sub>{j}{k}</sub> = {fmt(upstream[j])} × "
                                     f"{fmt(x[k])} = <b>{fmt(grad_weight[j, k])}</b></li>")
            else:
                parts.append(f"<li>dL/dW = {vector(grad_weight)} (summed over {batch} "
                             "samples)</li>")
            if weight.size == 1:
                parts.append(f"<li>dL/dx = W × dL/dy = {fmt(weight[0, 0])} × "
                             f"{fmt(upstream[0])} = <b>{fmt(grad_in[0])}</b></li>")
            parts.append(f"<li>dL/db = Σ dL/dy = {vector(record.grads['bias'])}</li></ul>")
    elif record.type == "residual":
        parts.append("</table>")
        parts.append(_residual_html(record, upstream, grad_in))
    else:
        parts.append(_row(f"dL/d{in_name} (through the norm's Jacobian)", vector(grad_in)))
        for name, grad in record.grads.items():
            parts.append(_row(f"dL/d{name} (affine)", vector(grad)))
        parts.append("</table>")
    return "".join(parts)
