"""Numba `prange` in one process, with numba.set_num_threads(p): a batch backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from coresweep.backends.base import Backend, Descriptor, Init


class NumbaParallelBackend(Backend):
    name = "numba-parallel"
    descriptor = Descriptor(
        isolation="thread",
        shares_memory=True,
        arguments="reference",
        pickler="none",
        start_method="none",
        supervision="program-lost",
        gil_bound=False,  # prange threads run compiled code without the GIL
        batch=True,
    )

    def start(self, init: Init | None = None) -> None:
        # imported here: every spawned worker imports this package to unpickle its init
        import numba

        limit = numba.config.NUMBA_NUM_THREADS
        if self.workers > limit:
            raise ValueError(
                f"numba-parallel: p={self.workers} exceeds NUMBA_NUM_THREADS={limit}; "
                f"set NUMBA_NUM_THREADS>={self.workers} before starting"
            )
        numba.set_num_threads(self.workers)
        if init is not None:
            init()

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return list(fn(items))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        raise NotImplementedError(
            f"{self.name} runs a whole batch in one prange call (map with a batch function);"
            " it has no single-task submit: use a per-task backend"
        )

    def shutdown(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        import numba

        return {**super().describe(), "threading_layer": numba.config.THREADING_LAYER}
