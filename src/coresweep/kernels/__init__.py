"""Kernel registry: adding a kernel is one module and one line here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coresweep.kernels.base import Check, Kernel, Task, make_tasks
from coresweep.kernels.matrix import DGEMM
from coresweep.kernels.montecarlo import MC_NUMBA, MC_PYTHON
from coresweep.kernels.stream import TRIAD
from coresweep.kernels.user import UserKernelError, build_kernel

KERNELS: dict[str, Kernel] = {k.name: k for k in (MC_PYTHON, MC_NUMBA, DGEMM, TRIAD)}


def get_kernel(name: str, user_specs: Mapping[str, Any] | None = None) -> Kernel:
    """The kernel registered under name, or built from user_specs[name] (config user_kernels).

    A clear error listing the known ones otherwise; a user kernel may not shadow a built-in.
    """
    user_specs = user_specs or {}
    if name in user_specs:
        if name in KERNELS:
            raise UserKernelError(
                f"user kernel {name!r}: the name of a built-in kernel; choose another name"
            )
        return build_kernel(name, user_specs[name])
    try:
        return KERNELS[name]
    except KeyError:
        known = sorted(KERNELS) + [f"{u} (user)" for u in sorted(user_specs)]
        raise KeyError(
            f"unknown kernel {name!r}; known: {', '.join(known)} "
            "(your own functions go under the top-level user_kernels section)"
        ) from None


__all__ = ["KERNELS", "Check", "Kernel", "Task", "UserKernelError", "get_kernel", "make_tasks"]
