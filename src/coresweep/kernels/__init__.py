"""Kernel registry: adding a kernel is one module and one line here."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from coresweep.kernels.base import Check, Kernel, Task, make_tasks
from coresweep.kernels.user import UserKernelError, build_kernel


@functools.cache
def _registry() -> dict[str, Kernel]:
    # imported on first use, not with the package: a subinterpreter worker imports a pure
    # Python kernel module (coresweep.kernels.montecarlo_pure) through this package, and
    # NumPy, Numba (the other kernels) and jsonschema (coresweep.config) refuse to load there
    from coresweep.kernels.matrix import DGEMM
    from coresweep.kernels.montecarlo import MC_NUMBA, MC_PYTHON
    from coresweep.kernels.stream import TRIAD

    return {k.name: k for k in (MC_PYTHON, MC_NUMBA, DGEMM, TRIAD)}


def __getattr__(name: str) -> Any:
    if name == "KERNELS":  # the registry: name -> Kernel
        return _registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_kernel(name: str, user_specs: Mapping[str, Any] | None = None) -> Kernel:
    """The kernel registered under name, or built from user_specs[name] (config user_kernels).

    A clear error listing the known ones otherwise; a user kernel may not shadow a built-in.
    """
    user_specs = user_specs or {}
    kernels = _registry()
    if name in user_specs:
        if name in kernels:
            raise UserKernelError(
                f"user kernel {name!r}: the name of a built-in kernel; choose another name"
            )
        return build_kernel(name, user_specs[name])
    try:
        return kernels[name]
    except KeyError:
        known = sorted(kernels) + [f"{u} (user)" for u in sorted(user_specs)]
        raise KeyError(
            f"unknown kernel {name!r}; known: {', '.join(known)} "
            "(your own functions go under the top-level user_kernels section)"
        ) from None


def kernels_from(
    names: Sequence[str], key: str, user_kernels: Mapping[str, Any] | None = None
) -> list[Kernel]:
    """Registry lookup for a config list, with an error naming the key and allowed values.

    Names found in user_kernels (the config's top-level section) are built from their spec;
    an import problem or a bad spec is a ConfigError naming user_kernels.<name>.
    """
    from coresweep.config import ConfigError

    out = []
    for n in names:
        try:
            out.append(get_kernel(n, user_kernels))
        except KeyError as exc:
            raise ConfigError(f"config key {key}: {exc.args[0]}") from None
        except UserKernelError as exc:
            raise ConfigError(f"config key user_kernels.{n}: {exc}") from None
    return out


__all__ = [
    "KERNELS",
    "Check",
    "Kernel",
    "Task",
    "UserKernelError",
    "get_kernel",
    "kernels_from",
    "make_tasks",
]
