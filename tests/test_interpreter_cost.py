"""Single-thread cost per interpreter: the free-threading overhead, from the scaling table."""

from __future__ import annotations

import pandas as pd
import pytest

from coresweep.analysis.interpreters import single_thread_cost


def _rows(interp, med, half, kernel="mc-python", n=2):
    return [{"kernel": kernel, "interpreter": interp, "serial_s_per_unit": med,
             "serial_s_per_unit_ci_lo": med - half, "serial_s_per_unit_ci_hi": med + half}
            for _ in range(n)]  # fmt: skip


def test_each_interpreter_against_the_first_listed_with_the_widest_interval():
    t = pd.DataFrame(_rows("cpython-3.14", 1.0, 0.01) + _rows("cpython-3.14t", 1.08, 0.02))
    out = single_thread_cost(t).set_index("interpreter")
    assert list(out.index) == ["cpython-3.14", "cpython-3.14t"]
    assert out.loc["cpython-3.14", "vs_first"] == 1.0
    assert out.loc["cpython-3.14t", "vs_first"] == pytest.approx(1.08)
    # [1.06, 1.10] over [0.99, 1.01]: the ratio both intervals allow
    assert out.loc["cpython-3.14t", "vs_first_ci_lo"] == pytest.approx(1.06 / 1.01)
    assert out.loc["cpython-3.14t", "vs_first_ci_hi"] == pytest.approx(1.10 / 0.99)


def test_one_interpreter_or_an_old_table_gives_no_comparison():
    assert single_thread_cost(pd.DataFrame(_rows("cpython-3.11", 1.0, 0.01))).empty
    assert single_thread_cost(pd.DataFrame({"kernel": ["k"], "interpreter": ["a"]})).empty
