"""Usable cores honour affinity and cgroup quotas; unreadable files mean unknown, not a crash."""

from __future__ import annotations

import os

from coresweep.measure.cores import cgroup_quota_cores, usable_cores


def test_quota_is_read_from_cpu_max(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_quota_cores(tmp_path) == 1.5
    assert usable_cores(tmp_path) == 1  # floor(1.5), whatever the affinity set


def test_unlimited_or_missing_quota_is_none(tmp_path):
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_quota_cores(tmp_path) is None
    assert cgroup_quota_cores(tmp_path / "missing") is None
    assert usable_cores(tmp_path / "missing") == len(os.sched_getaffinity(0))


def test_affinity_caps_usable_cores(tmp_path):
    original = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(original)})
        assert usable_cores(tmp_path) == 1
    finally:
        os.sched_setaffinity(0, original)
