"""Shared fixtures: tiny configs and a guard that no test leaves child processes behind."""

from __future__ import annotations

import contextlib

import psutil
import pytest

from coresweep.measure.cleanup import is_interpreter_helper


def _running(p: psutil.Process) -> bool:
    try:
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
    except psutil.NoSuchProcess:
        return False
    return not is_interpreter_helper(p)  # they live as long as pytest


def _describe(p: psutil.Process) -> str:
    try:
        return f"{p.pid} {' '.join(p.cmdline())[:120]}"
    except psutil.NoSuchProcess:
        return f"{p.pid} (gone)"


@pytest.fixture
def no_leftover_children():
    """Fail the test if it leaves any child process alive."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    new = [
        p for p in psutil.Process().children(recursive=True) if p.pid not in before and _running(p)
    ]
    _, alive = psutil.wait_procs(new, timeout=5)  # shutdown may still be reaping
    after = [p for p in alive if _running(p)]
    described = [_describe(p) for p in after]
    # only the offenders: killing the forkserver or resource tracker would break every later
    # test of this session that starts a forkserver pool (ECHILD on the dead server's pid)
    for p in after:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(after, timeout=5)
    assert not after, f"left behind: {described}"


@pytest.fixture(autouse=True)
def fresh_start_probes():
    """Each test's first point probes the machine itself: the runner's end probes of an
    earlier test's point (runner.START_REUSE_SECONDS) are not its start."""
    from coresweep.measure import runner

    runner._LAST_END.clear()
    yield
    runner._LAST_END.clear()
