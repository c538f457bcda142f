"""The one compiled part: the fused population evaluation (engine/evolution/_fused.c).

Everything else is in pyproject.toml. The extension is optional: where it cannot be
built (no C compiler), the install goes on and the evolution uses its torch evaluation
(engine/evolution/fused.py says when the kernel applies).
"""

import sys

from setuptools import Extension, setup

# -O3 for the kernel's vector loops, and a·b + c as one fused multiply-add where the copy's
# instruction set has one (its tanh's error bound counts on it); no -ffast-math: the
# kernel's float32 arithmetic is what its tests check (tests/engine/test_fused_evaluation.py)
ARGUMENTS = [] if sys.platform == "win32" else ["-O3", "-std=gnu11", "-ffp-contract=fast"]

setup(ext_modules=[Extension(
    "engine.evolution._fused",
    sources=["engine/evolution/_fused.c"],
    depends=["engine/evolution/fused_kernel.h"],
    extra_compile_args=ARGUMENTS,
    optional=True,
)])
