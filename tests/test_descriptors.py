"""Descriptors: every registered backend declares valid, consistent facts, tables carry them,
and every consumer can classify every backend by them (never by its name)."""

from __future__ import annotations

from dataclasses import asdict, fields

import pandas as pd
import pytest

from coresweep.analysis.verdicts import is_processes, is_threads
from coresweep.backends import BACKENDS, make_backend
from coresweep.backends.base import ARGUMENTS, ISOLATION, PICKLERS, SUPERVISION, Descriptor
from coresweep.experiments import with_descriptors
from coresweep.report.plots import backend_colors

NAMES = list(BACKENDS)

#: the kinds of execution model the claims compare, by descriptor columns alone: C1/C8 need
#: processes (and a cluster beyond them), C2/C3/C11 threads under one GIL and threads without
#: it, every speedup the inline loop; issue 22 compares subinterpreters with both. A backend
#: in none of them cannot enter any verdict.
CATEGORIES = {
    "inline": lambda c: c["backend_isolation"] == "inline",
    "gil-bound threads": lambda c: c["backend_isolation"] == "thread" and c["backend_gil_bound"],
    "nogil threads": lambda c: c["backend_isolation"] == "thread" and not c["backend_gil_bound"],
    # workers with a GIL each in the caller's process (PEP 684): neither threads nor processes
    "subinterpreters": lambda c: c["backend_isolation"] == "interpreter",
    "processes": lambda c: c["backend_isolation"] == "process",
    "cluster": lambda c: c["backend_isolation"] == "cluster",
}


def categories(columns: dict) -> list[str]:
    return [name for name, test in CATEGORIES.items() if test(columns)]


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_backend_declares_a_valid_descriptor(name):
    cls = BACKENDS[name]
    d = cls.descriptor
    assert isinstance(d, Descriptor) and cls.name == name
    Descriptor(**asdict(d))  # the vocabulary checks run again on its values
    assert d.isolation in ISOLATION and d.arguments in ARGUMENTS
    assert d.pickler in PICKLERS and d.supervision in SUPERVISION
    assert isinstance(d.start_method, str) and d.start_method
    if d.separate_processes:  # nothing is shared, everything travels pickled
        assert not d.shares_memory and d.arguments != "reference" and d.pickler != "none"
        assert d.start_method != "none" and d.supervision != "program-lost"
    if d.isolation in ("inline", "thread"):  # the caller's own process and objects
        assert d.shares_memory and d.arguments == "reference" and d.start_method == "none"
        assert d.supervision == "program-lost"
    columns = make_backend(name, 1).describe()  # what every raw record carries
    assert {k: columns[k] for k in d.columns()} == d.columns()


def test_a_descriptor_outside_the_vocabulary_is_refused():
    good = asdict(BACKENDS["threads"].descriptor)
    with pytest.raises(ValueError, match="isolation 'gpu' is not one of"):
        Descriptor(**{**good, "isolation": "gpu"})
    with pytest.raises(ValueError, match="pickler 'none' contradicts arguments 'pickled'"):
        Descriptor(**{**good, "arguments": "pickled"})
    # a start method without a row of costs would get another method's estimates
    with pytest.raises(ValueError, match="start_method 'gpu' is not one of .*START_COSTS"):
        Descriptor(**{**good, "start_method": "gpu"})


def test_with_descriptors_gives_every_registered_backend_its_columns():
    table = pd.DataFrame({"backend": [*NAMES, "not-registered"], "p": range(len(NAMES) + 1)})
    out = with_descriptors(table)
    keys = [f"backend_{f.name}" for f in fields(Descriptor)]
    assert set(keys) <= set(out.columns)
    for row in out.to_dict("records"):
        if row["backend"] in BACKENDS:
            assert {k: row[k] for k in keys} == BACKENDS[row["backend"]].descriptor.columns()
        else:
            assert all(pd.isna(row[k]) for k in keys)


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_backend_falls_into_exactly_one_category_the_claims_need(name):
    columns = BACKENDS[name].descriptor.columns()
    assert len(categories(columns)) == 1, (
        f"{name} ({columns}) falls into {categories(columns) or 'no category'}: the verdict "
        f"rules select by {list(CATEGORIES)}; teach them this kind of backend first"
    )
    # and the verdict rules' own selectors agree with that category
    row = pd.DataFrame([{"backend": name, **columns}])
    (category,) = categories(columns)
    assert bool(is_processes(row)[0]) == (category in ("processes", "cluster"))
    assert bool(is_threads(row)[0]) == (category in ("gil-bound threads", "nogil threads"))


def test_plots_colour_every_backend_by_its_descriptor_and_tell_them_apart():
    described = pd.DataFrame(
        [{"backend": n, **b.descriptor.columns()} for n, b in BACKENDS.items()]
    )
    colors = backend_colors(described)
    assert set(colors) == set(NAMES)
    assert len(set(colors.values())) == len(NAMES)  # no two backends share a colour
    # a backend no plot has heard of gets its family's hue in its start method's shade: alone
    # in its figure, the colour processes-spawn has alone in one, a shade of process blue
    spawn = {**BACKENDS["processes-spawn"].descriptor.columns(), "backend": "processes-spawn"}
    newcomer = {**spawn, "backend": "my-pool"}
    (colour,) = backend_colors(pd.DataFrame([newcomer])).values()
    assert colour == backend_colors(pd.DataFrame([spawn]))["processes-spawn"]
    fork = {**BACKENDS["processes-fork"].descriptor.columns(), "backend": "processes-fork"}
    assert colour != backend_colors(pd.DataFrame([fork]))["processes-fork"]  # another band

    assert backend_colors(pd.DataFrame([{"backend": "not-registered"}])) != {}


def test_analysis_knows_the_descriptor_columns_without_importing_the_backends():
    from coresweep.analysis.verdicts import DESCRIPTOR_COLUMNS

    for cls in BACKENDS.values():
        assert tuple(cls.descriptor.columns()) == DESCRIPTOR_COLUMNS
