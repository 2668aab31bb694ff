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
