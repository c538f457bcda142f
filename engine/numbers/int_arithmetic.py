"""Integer addition as the hardware does it: wrapping, against the exact sum and against
what a saturating adder (as in some DSP and quantised-inference kernels) would give.

torch's integer tensors wrap on overflow (two's complement, modulo 2^bits); ``add``
reports torch's own result beside the exact and the saturated ones, so what is shown
is measured, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.numbers.formats import IntFormat, NumberError, get_format
from engine.numbers.integers import parse_integer, saturate, wrap


@dataclass(frozen=True)
class IntSum:
    format: str
    a: int
    b: int
    exact: int  # a + b in unbounded integers
    wrapped: int  # modulo 2^bits, read back in the format
    saturated: int  # clamped to the format's range
    torch_result: int  # what torch computed with tensors of the format's dtype

    @property
    def overflowed(self) -> bool:
        return self.exact != self.wrapped


def add(fmt_name: str, a_text: str, b_text: str) -> IntSum:
    """``a + b`` in the integer format ``fmt_name``.

    Raises
    ------
    NumberError
        For a non-integer format, text that is not an integer, or an operand outside the
        format's range (operands must be values the format holds).
    """
    fmt = get_format(fmt_name)
    if not isinstance(fmt, IntFormat):
        raise NumberError(f"{fmt_name} is not an integer format")
    a, b = (parse_integer(fmt, text) for text in (a_text, b_text))
    for name, value in (("a", a), ("b", b)):
        if not fmt.min <= value <= fmt.max:
            raise NumberError(f"{name} = {value} is outside {fmt.name}'s range "
                              f"{fmt.min} … {fmt.max}")
    result = torch.tensor(a, dtype=fmt.torch_dtype) + torch.tensor(b, dtype=fmt.torch_dtype)
    return IntSum(fmt.name, a, b, a + b, wrap(fmt, a + b), saturate(fmt, a + b),
                  int(result.item()))
