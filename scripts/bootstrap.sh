# Sourced by ./run-app and ./run-tests: make .venv with everything Chain Lab needs, once.
# Re-runs the install only when pyproject.toml, setup.py or the C kernel it builds changed
# since the last one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
STAMP="$VENV/.chainlab-installed"
WANT="$(cat "$ROOT/pyproject.toml" "$ROOT/setup.py" "$ROOT"/engine/evolution/*.[ch] \
        | sha256sum | cut -c1-16)"

if [ ! -x "$PY" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    echo "chainlab: setting up $VENV (first run only)..." >&2
    python3 -m venv "$VENV"
    if ! "$PY" -c "import torch" 2>/dev/null; then
        # The CPU wheel torch==2.13.0 is on local disk on our machines; a loose "torch"
        # requirement would pull a multi-GB CUDA build. Elsewhere, take what pip finds.
        "$VENV/bin/pip" install -q "torch==2.13.0" || "$VENV/bin/pip" install -q "torch>=2.4"
    fi
    # an optional extension that fails to build leaves the last one in place: remove it,
    # so that what runs is what the sources say or nothing
    rm -f "$ROOT"/engine/evolution/_fused*.so
    "$VENV/bin/pip" install -q -e "$ROOT[test]"
    # the C kernel is optional to the install, not to these machines: say when it is missing
    "$PY" -c "import engine.evolution._fused" 2>/dev/null ||
        echo "chainlab: the fused evaluation (C) did not build (a C compiler?); the" \
             "evolution runs on torch alone. To try again: rm $STAMP" >&2
    echo "$WANT" > "$STAMP"
fi
