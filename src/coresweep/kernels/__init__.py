"""Kernel registry: adding a kernel is one module and one line here."""

from __future__ import annotations

from coresweep.kernels.base import Check, Kernel, Task, make_tasks
from coresweep.kernels.matrix import DGEMM
from coresweep.kernels.montecarlo import MC_NUMBA, MC_PYTHON
from coresweep.kernels.stream import TRIAD

KERNELS: dict[str, Kernel] = {k.name: k for k in (MC_PYTHON, MC_NUMBA, DGEMM, TRIAD)}


def get_kernel(name: str) -> Kernel:
    """The kernel registered under name; a clear error listing the known ones otherwise."""
    try:
        return KERNELS[name]
    except KeyError:
        raise KeyError(f"unknown kernel {name!r}; known: {', '.join(sorted(KERNELS))}") from None


__all__ = ["KERNELS", "Check", "Kernel", "Task", "get_kernel", "make_tasks"]
