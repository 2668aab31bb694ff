"""Measuring the points of an experiment that pins this process (C7, C10) inside pytest."""

from __future__ import annotations

import os
from typing import Any

import psutil
from jobrecords import measured

from coresweep.measure.cores import Node


def measure_restoring(exp: Any, config: dict[str, Any], granted: int = 2) -> list[dict]:
    """Raw records of every point; asserts the pin is undone and no child process is left."""
    before = os.sched_getaffinity(0)
    children = {c.pid for c in psutil.Process().children(recursive=True)}
    out = [measured(exp, point) for point in exp.points(config, Node.here(granted))]
    assert os.sched_getaffinity(0) == before  # the pin is undone
    left = {c.pid for c in psutil.Process().children(recursive=True)} - children
    assert not left, f"measure left child processes {left}"
    return out
