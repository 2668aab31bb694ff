"""Kernels: correct against their references, deterministic, identical across implementations."""

from __future__ import annotations

import numpy as np
import pytest

from coresweep.kernels import KERNELS, Task, get_kernel, make_tasks, stream
from coresweep.kernels.montecarlo import hits_numba, hits_python


def tiny_size(name: str, seconds: float = 1e-4) -> int:
    """The smallest power-of-two size whose task takes `seconds` at the kernel's declared
    nominal rate: every registered kernel is tested without a size table to extend."""
    k, size = get_kernel(name), 16
    while (k.seconds_per_task(size) or seconds) < seconds:
        size *= 2
    return size


def _run(name: str, ntasks: int = 4, seed: int = 7) -> tuple[list[Task], list]:
    k = get_kernel(name)
    size = tiny_size(name)
    tasks = make_tasks(size, ntasks, seed)
    if k.compile:
        k.compile()
    if k.prepare:
        k.prepare(size, ntasks, seed)
    return tasks, [k.run(t) for t in tasks]


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_passes_its_reference_check(name):
    tasks, results = _run(name)
    check = get_kernel(name).check(tasks, results)
    assert check.ok, check.detail


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_is_deterministic_for_the_same_seed(name):
    assert _run(name)[1] == _run(name)[1]


def test_per_task_seeds_come_from_seedsequence_spawn():
    tasks = make_tasks(10, 3, 42)
    expected = [
        int(c.generate_state(1, dtype=np.uint64)[0]) for c in np.random.SeedSequence(42).spawn(3)
    ]
    assert [t.seed for t in tasks] == expected
    assert len({t.seed for t in tasks}) == 3


def test_python_and_numba_monte_carlo_count_the_same_hits():
    for seed in (1, 2**63 + 5, 123456789):
        assert hits_python(5000, seed) == int(hits_numba(5000, np.uint64(seed)))


def test_monte_carlo_check_rejects_a_wrong_count():
    tasks, results = _run("mc-numba")
    bad = [r // 2 for r in results]
    assert not get_kernel("mc-numba").check(tasks, bad).ok


def test_dgemm_check_rejects_a_wrong_block():
    tasks, results = _run("dgemm")
    bad = [results[0] * (1 + 1e-6), *results[1:]]
    assert not get_kernel("dgemm").check(tasks, bad).ok


def test_triad_check_rejects_a_wrong_sum():
    tasks, results = _run("triad")
    assert not get_kernel("triad").check(tasks, [r + 1.0 for r in results]).ok


@pytest.mark.parametrize("name", ["mc-numba", "triad"])
def test_prange_batch_matches_per_task_results(name):
    k = get_kernel(name)
    tasks, results = _run(name)
    k.compile_parallel()
    assert k.run_parallel(tasks) == results


def test_unknown_kernel_names_the_known_ones():
    with pytest.raises(KeyError, match="known: .*mc-python"):
        get_kernel("nope")


def test_work_units_match_the_kernel_definition():
    assert get_kernel("dgemm").work(10) == 2000.0
    assert get_kernel("mc-python").work(10) == 10.0
    assert get_kernel("triad").work(10) == 24.0 * 10  # one sweep of a, b, c per task


def test_triad_chunks_do_not_depend_on_how_many_chunks_a_worker_holds():
    k = get_kernel("triad")
    k.compile()
    k.prepare(1000, 8, 0)  # strong, then weak workload of one worker: they share the arrays
    k.prepare(1000, 2, 0)
    few = make_tasks(1000, 2, 0)
    many = make_tasks(1000, 8, 0)
    assert k.check(few, [k.run(t) for t in few]).ok
    assert k.check(many, [k.run(t) for t in many]).ok


def test_triad_result_is_the_same_from_every_slot_and_chunk_size():
    """A task's sum depends on its size and scalar only: any slot (a chunk starting at a
    multiple of the input period) of any held set gives the same, exact, value."""
    k = get_kernel("triad")
    k.compile()
    stream.hold(stream.held_elements(5000, 6))
    task = Task(index=3, size=5000, seed=0)
    first = [k.run(task) for _ in range(6)]  # six successive slots, round robin
    assert len(set(first)) == 1
    assert first[0] == stream.reference(5000, stream.scalar(3))  # exact, not approximately
    assert first[0] == sum(
        (i % 4096) / 4096 + 3.375 * (1 + (5 * i % 4096) / 4096) for i in range(5000)
    )


def test_triad_prepare_holds_one_set_sized_for_the_worker_share():
    stream.hold(1)  # any set from an earlier test is kept when big enough; start small
    stream._HELD.clear()
    stream.prepare(10_000, 4, 0)  # 4 chunks of 10 000 (each padded to whole periods)
    assert stream.held() == 4 * 12_288
    stream.prepare(10_000, 2, 0)  # the weak share of the same worker: no second set
    assert stream.held() == 4 * 12_288
    stream.prepare(4096, 16, 0)
    assert stream.held() == 16 * 4096


@pytest.mark.parametrize("call", ["run", "run_parallel"])
def test_triad_samples_take_the_next_chunks_so_a_sweep_visits_every_chunk_once(call):
    """A sample of 2 tasks over 4 held chunks (samples_per_sweep 2) writes 2 chunks it did
    not write before; the next sample writes the other 2: no chunk comes round again before
    every other one was swept (what keeps it out of the cache)."""
    k = get_kernel("triad")
    k.compile()
    k.compile_parallel()
    stream.release()
    stream.prepare(4096, 4, 0)
    a = stream._HELD[0].a
    tasks = make_tasks(4096, 2, 0)

    def sample() -> list[float]:
        return k.run_parallel(tasks) if call == "run_parallel" else [k.run(t) for t in tasks]

    def written() -> int:
        return int((a.reshape(4, 4096) != 0).any(axis=1).sum())

    assert written() == 0
    assert k.check(tasks, sample()).ok
    assert written() == 2
    assert k.check(tasks, sample()).ok
    assert written() == 4
    stream.release()


def _fork_children(size: int, ntasks: int, seed: int, children: int = 2) -> list[dict]:
    """Fork `children` processes from this one, alive at once (a barrier), each preparing
    the triad for its share as a fork pool's worker does: where its b and c lie, relative
    to this process's (the parent's) b and c, and whether its tasks pass the check."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    parent = stream._HELD[0]
    barrier, out = ctx.Barrier(children), ctx.Queue()

    def child() -> None:
        stream.prepare(size, ntasks, seed)
        h = stream._HELD[0]
        barrier.wait(timeout=20)  # every child has taken its share before any exits
        tasks = make_tasks(size, ntasks, seed)
        rows = {"ok": stream.check(tasks, [stream.run(t) for t in tasks]).ok, "n": h.b.size}
        for name in ("b", "c"):
            mine, theirs = getattr(h, name), getattr(parent, name)
            start = mine.__array_interface__["data"][0] - theirs.__array_interface__["data"][0]
            rows[name] = (start // mine.itemsize, np.shares_memory(mine, theirs))
        out.put(rows)

    procs = [ctx.Process(target=child) for _ in range(children)]
    for p in procs:
        p.start()
    try:
        return [out.get(timeout=30) for _ in procs]
    finally:
        for p in procs:
            p.join(10)
            if p.exitcode is None:
                p.kill()
                p.join()


def test_triad_fork_workers_read_disjoint_shares_of_the_parents_inputs():
    """Two fork workers of a parent holding inputs for both read different b and c pages
    (the same pages would let one worker's reads hit the cache the other just filled),
    each a view of the parent's inputs (not rebuilt), and their sums stay exact."""
    stream.compile_numba()
    stream.release()
    size, ntasks = stream.PERIOD, 2
    n = stream.held_elements(size, ntasks)
    stream.prepare(size, 2 * ntasks, 0)  # the parent: two workers' shares
    total = stream.held()
    assert total == 2 * n
    rows = _fork_children(size, ntasks, 0)
    stream.release()
    for name in ("b", "c"):
        starts = sorted(r[name][0] for r in rows)
        assert all(r[name][1] for r in rows)  # views of the parent's arrays
        assert all(0 <= s <= total - n for s in starts)  # inside them
        assert starts[1] - starts[0] >= n  # disjoint
        assert all(s % stream.PERIOD == 0 for s in starts)
    assert all(r["n"] == n and r["ok"] for r in rows)


def test_triad_fork_workers_wrap_to_the_first_share_when_the_parent_holds_one():
    """A parent holding fewer than two workers' shares: both read its first share, exactly."""
    stream.compile_numba()
    stream.release()
    size, ntasks = stream.PERIOD, 2
    stream.prepare(size, 3, 0)  # 1.5 shares of a worker's 2 chunks
    rows = _fork_children(size, ntasks, 0)
    stream.release()
    assert all(r[name] == (0, True) for r in rows for name in ("b", "c"))
    assert all(r["ok"] for r in rows)


def test_triad_share_counter_starts_no_helper_process():
    """The counter a process makes for its fork workers' shares starts no process: no
    resource tracker (a fresh interpreter, so no other test's tracker hides one)."""
    import subprocess
    import sys

    code = """
import multiprocessing.resource_tracker as rt
import psutil
from coresweep.kernels import stream
before = psutil.Process().children(recursive=True)
stream.prepare(stream.PERIOD, 2, 0)
assert stream._HELD[0].shares is not None
assert stream._take_share(stream._HELD[0].shares) == 0
assert psutil.Process().children(recursive=True) == before == []
assert rt._resource_tracker._pid is None
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_triad_share_counter_never_blocks_a_worker(monkeypatch):
    """A counter whose lock is never released (a sibling killed holding it) still hands
    out a share after SHARE_LOCK_SECONDS: a pool worker does not hang in its init."""
    monkeypatch.setattr(stream, "SHARE_LOCK_SECONDS", 0.05)
    counter = stream._share_counter()
    assert counter.get_lock().acquire(timeout=1)  # held, as a dead sibling would
    assert [stream._take_share(counter) for _ in range(2)] == [0, 1]
    assert stream._take_share(None) == 0  # inputs that are a share of a parent's: from 0
