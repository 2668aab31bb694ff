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


def test_capacity_of_one_core_is_one_and_needs_no_probe():
    from coresweep.measure.capacity import capacity

    assert capacity(1) == 1.0


def test_a_process_hogging_a_core_is_seen_and_waited_for_within_the_bound():
    import subprocess
    import sys
    import time

    from coresweep.measure.capacity import LOW, check_capacity
    from coresweep.measure.cores import usable_cores

    cores = usable_cores()
    if cores < 2:
        import pytest

        pytest.skip("one usable core: there is no parallel capacity to lose")
    # busy processes on all cores but one: one probe thread still runs at full speed, while
    # `cores` probe threads share the cores with the hogs (what a noisy neighbour does)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores - 1)]
    try:
        time.sleep(0.5)  # the hogs are past interpreter start-up and spinning
        check = check_capacity(cores, wait_seconds=1.0, pause=0.5)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert not check.ok and check.capacity < LOW * cores
    assert 0.5 <= check.waited_s < 5.0  # waited, then gave up near the bound
    assert check.as_dict()["cores"] == cores
