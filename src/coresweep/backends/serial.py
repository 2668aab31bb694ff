"""The baseline: a plain loop in the calling thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from coresweep.backends.base import Backend, Descriptor, Init, called_future


class SerialBackend(Backend):
    name = "serial"
    descriptor = Descriptor(
        isolation="inline",
        shares_memory=True,
        arguments="reference",
        pickler="none",
        start_method="none",
        supervision="program-lost",
        gil_bound=True,
    )

    def __init__(self, workers: int = 1) -> None:
        if workers != 1:
            raise ValueError(f"serial runs on exactly 1 worker, got p={workers}")
        super().__init__(1)

    def start(self, init: Init | None = None) -> None:
        if init is not None:
            init()

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return [fn(x) for x in items]

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        return called_future(fn, *args)  # the caller's thread runs it before submit returns

    def worker_ids(self) -> list[int]:
        return [threading.get_native_id()]

    def shutdown(self) -> None:
        pass
