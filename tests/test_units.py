"""One formatter for times and sizes: three significant digits in a unit a reader expects."""

from __future__ import annotations

import math

import pytest

from coresweep.units import fmt_bytes, fmt_seconds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1.234, "1.23 s"),
        (4.567e-3, "4.57 ms"),
        (12.34e-6, "12.3 µs"),
        (150e-6, "150 µs"),
        (0.5e-6, "500 ns"),
        (0.9997, "1000 ms"),  # whole from 100 up: never "1e+03 ms"
        (1234.0, "1234 s"),
        (-2e-3, "-2 ms"),
        (0.0, "0 s"),
        (math.inf, "∞"),
        (math.nan, "–"),
        (None, "–"),
    ],
)
def test_fmt_seconds(seconds, text):
    assert fmt_seconds(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (8, "8 B"),
        (64 * 2**10, "64 KiB"),
        (1.5 * 2**20, "1.5 MiB"),
        (5.634 * 2**30, "5.63 GiB"),
        (1000 * 2**20, "1000 MiB"),
        (2 * 2**40, "2 TiB"),
        (0, "0 B"),
        (None, "–"),
    ],
)
def test_fmt_bytes(size, text):
    assert fmt_bytes(size) == text
