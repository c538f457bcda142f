"""Chain Lab's simulation engine: numpy and torch only, never Qt.

Everything the GUI and the headless runner show is computed here.
"""

from engine.core.vector_math import warm_up

# before anything computes: see engine/core/vector_math.py
warm_up()
