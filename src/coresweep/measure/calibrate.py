"""Size tasks by time: how many samples of a kernel one core runs in a given number of seconds.

Task-size and load experiments specify work in seconds of serial work, because the same
sample count costs ~170x more in pure Python than in Numba. Only kernels whose work grows
linearly with the size and that run no inner thread pool qualify (unit "sample").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from coresweep.config import ConfigError
from coresweep.kernels import Kernel, kernels_from
from coresweep.measure.timer import timed

TIMED_UNIT = "sample"
MIN_CALIBRATION_SECONDS = 0.02


def timed_kernels(
    names: Sequence[str], key: str, user_kernels: Mapping[str, Any] | None = None
) -> list[Kernel]:
    """Kernels that can be cut into tasks of a given duration; ConfigError naming the key."""
    from coresweep.kernels import KERNELS

    kernels = kernels_from(names, key, user_kernels)
    allowed = sorted(k.name for k in KERNELS.values() if k.unit == TIMED_UNIT)
    allowed += [f"user kernels with unit: {TIMED_UNIT}"]
    bad = [k.name for k in kernels if k.unit != TIMED_UNIT]
    if bad:
        raise ConfigError(
            f"config key {key}: {bad} cannot be cut into tasks of a given duration "
            f"(work not linear in size, or an inner thread pool); allowed: {allowed}"
        )
    return kernels


def one_task(kernel: Kernel, size: int, seed: int) -> Any:
    """A single task of the given size (built-in or user kernel alike)."""
    return kernel.make_tasks(size, 1, seed)[0]


def samples_per_second(
    kernel: Kernel, seed: int, min_seconds: float = MIN_CALIBRATION_SECONDS
) -> float:
    """One core's rate for this kernel: grow the task until a run lasts min_seconds, best of 3."""
    if kernel.compile is not None:
        kernel.compile()
    size = 1000
    while True:
        task = one_task(kernel, size, seed)
        best = min(timed(lambda t=task: kernel.run(t))[1].wall for _ in range(3))
        if best >= min_seconds:
            return size / best
        size *= 2 if best <= 0 else max(2, min(16, int(min_seconds / best) + 1))


def size_for(seconds: float, rate: float) -> int:
    """Samples in a task that lasts `seconds` at `rate` (at least one)."""
    return max(1, round(seconds * rate))
