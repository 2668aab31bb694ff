"""Usable cores: CPU affinity and cgroup quotas, not os.cpu_count()."""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def affinity() -> list[int]:
    """CPUs this process may run on."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def cgroup_cpu_max(root: Path = CGROUP_ROOT) -> str | None:
    """Raw `cpu.max` of the cgroup (v2), or None when unreadable."""
    try:
        return (root / "cpu.max").read_text().strip()
    except OSError:
        return None


def cgroup_quota_cores(root: Path = CGROUP_ROOT) -> float | None:
    """CPU quota in cores from cgroup v2 `cpu.max` ("max 100000" means none)."""
    raw = cgroup_cpu_max(root)
    if not raw:
        return None
    parts = raw.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        return int(parts[0]) / int(parts[1])
    except (ValueError, ZeroDivisionError):
        return None


def usable_cores(root: Path = CGROUP_ROOT) -> int:
    """Cores this process can really use: affinity capped by the cgroup quota."""
    n = len(affinity())
    quota = cgroup_quota_cores(root)
    if quota is not None:
        n = min(n, max(1, math.floor(quota)))
    return max(1, n)
