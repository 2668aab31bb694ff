"""The shared skeleton of experiments: arm fields, row tails, pool start by descriptor."""

from __future__ import annotations

from coresweep.backends import BACKENDS
from coresweep.experiments.estimates import pool_start_seconds
from coresweep.experiments.rows import arm_fields, row_tail
from coresweep.measure.sampling import ArmSamples


def test_arm_fields_and_row_tail():
    s = ArmSamples(inner=3, first_run=0.5, warmup_wall=[0.4], wall=[0.1], cpu=[0.2],
                   stopped_on="precision")  # fmt: skip
    assert arm_fields(s) == {"wall": [0.1], "cpu": [0.2], "inner": 3, "first_run": 0.5,
                             "stopped_on": "precision"}  # fmt: skip
    assert arm_fields(s, warmup=True)["warmup_wall"] == [0.4]
    rec = {"point": {"id": "a__1"}, "provenance_hash": "h"}
    assert row_tail(rec, ["x"], [], ["y"]) == {"flags": "x;y", "point": "a__1",
                                               "provenance_hash": "h"}  # fmt: skip


def test_pool_start_follows_the_descriptor():
    for name, cls in BACKENDS.items():
        d = cls.descriptor
        start = pool_start_seconds(name, 4, 2)
        if d.isolation in ("inline", "thread"):
            assert start == 0.004, name
        elif d.start_method == "fork":
            assert start < 0.1, name
        else:
            assert start > 0.3, name


def test_a_point_with_more_workers_than_its_machine_had_cores_is_oversubscribed():
    from coresweep.experiments.row_flags import oversubscribed

    rec = {"provenance": {"machine": {"usable_cores": 2}}}
    assert oversubscribed(rec, 16) == ["oversubscribed"]
    assert oversubscribed(rec, 2) == []
    assert oversubscribed({}, 16) == []  # no provenance: nothing to compare with
