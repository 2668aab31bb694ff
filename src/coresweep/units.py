"""The one formatter for times and sizes: every layer writes seconds and bytes through it.

Three significant digits in the unit a reader expects (12.3 µs, 4.56 ms, 1.23 s; 64 KiB,
1.5 MiB, 5.63 GiB), whole numbers from 100 up so that 999.7 ms reads "1000 ms", not
"1e+03 ms". Sizes are binary (KiB, MiB, GiB), as the sizes are chosen and as the kernel
reports memory.
"""

from __future__ import annotations

import math

#: seconds per unit, largest first; below the last, nanoseconds
TIME_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))
#: bytes per unit, largest first; below the last, bytes
SIZE_UNITS = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"), (1, "B"))
MISSING = "–"  # no value (None or NaN)


def _number(value: float) -> str:
    """Three significant digits; a whole number from 100 up."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _scaled(value: float | None, units: tuple[tuple[float, str], ...], zero: str) -> str:
    if value is None or math.isnan(value):
        return MISSING
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return f"0 {zero}"
    for scale, unit in units:
        if abs(value) >= scale:
            return f"{_number(value / scale)} {unit}"
    scale, unit = units[-1]
    return f"{_number(value / scale)} {unit}"


def fmt_seconds(seconds: float | None) -> str:
    """Seconds in the unit a reader expects: 12.3 µs, 4.56 ms, 1.23 s ("–" for no value)."""
    return _scaled(seconds, TIME_UNITS, "s")


def fmt_bytes(size: float | None) -> str:
    """Bytes in binary units: 8 B, 64 KiB, 1.5 MiB, 5.63 GiB ("–" for no value)."""
    return _scaled(size, SIZE_UNITS, "B")
