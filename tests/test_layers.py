"""The layers of DESIGN.md hold in the imports of src/coresweep.

Every module under src/coresweep is parsed with `ast`; every import (module level and
inside functions, `import x` and `from x import y`, relative imports resolved) that
lands in coresweep is an edge. An edge from a layer to a layer it may not use fails,
and all such edges are listed in one message.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = "coresweep"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE

FOUNDATION_MODULES = {
    "coresweep",
    "coresweep.records",
    "coresweep.costs",
    "coresweep.config",
    "coresweep.interpreters",
    "coresweep.claims",
    "coresweep.stats",
    "coresweep.crossover",
    "coresweep.config_model",
    "coresweep.units",
    "coresweep.flags",
    "coresweep.advice_records",
}
APPLICATION_MODULES = {
    "coresweep.cli",
    "coresweep.advise",
    "coresweep.advise_interpreters",
    "coresweep.merge",
    "coresweep.planning",
}
SUBPACKAGE_LAYERS = ("kernels", "backends", "measure", "experiments", "analysis", "report")

ALLOWED: dict[str, set[str]] = {
    "foundation": {"foundation"},
    "kernels": {"foundation", "kernels"},
    "backends": {"foundation", "kernels", "backends"},
    "measure": {"foundation", "kernels", "backends", "measure"},
    "experiments": {"foundation", "kernels", "backends", "measure", "experiments"},
    "analysis": {"foundation", "analysis"},
    "report": {"foundation", "analysis", "report"},
    "application": {
        "foundation",
        "kernels",
        "backends",
        "measure",
        "experiments",
        "analysis",
        "report",
        "application",
    },
}


def module_name(path: Path, src: Path = SRC) -> str:
    """Dotted module name of a file under src/coresweep."""
    rel = path.relative_to(src.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    """Layer of a coresweep module; None for a name outside coresweep."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    if module in FOUNDATION_MODULES:
        return "foundation"
    if module in APPLICATION_MODULES:
        return "application"
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in SUBPACKAGE_LAYERS:
        return parts[1]
    raise AssertionError(f"module {module} is in no layer; add it to tests/test_layers.py")


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """Absolute name of a relative import `from .<level dots><target> import ...`."""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports_of(path: Path, src: Path = SRC) -> list[tuple[str, int]]:
    """Every coresweep module a file imports, with the line, at any depth of the tree."""
    module = module_name(path, src)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                target = _resolve(module, is_package, node.level, node.module)
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            # `from coresweep import stats` / `from . import x` names submodules too.
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                if _is_module(candidate, src):
                    found.append((candidate, node.lineno))
    return [(name, line) for name, line in found if layer_of_or_none(name) is not None]


def _is_module(name: str, src: Path) -> bool:
    if not name.startswith(PACKAGE + "."):
        return False
    rel = Path(*name.split(".")[1:])
    return (src / rel).with_suffix(".py").is_file() or (src / rel / "__init__.py").is_file()


def layer_of_or_none(name: str) -> str | None:
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    return layer_of(name)


def edges(src: Path = SRC) -> list[tuple[str, str, int, str, str]]:
    """(source module, imported module, line, source layer, imported layer) of every edge."""
    out = []
    for path in sorted(src.rglob("*.py")):
        source = module_name(path, src)
        source_layer = layer_of(source)
        for target, line in imports_of(path, src):
            out.append((source, target, line, source_layer, layer_of(target)))
    return out


def violations(src: Path = SRC) -> list[str]:
    bad = set()
    for source, target, line, src_layer, dst_layer in edges(src):
        if dst_layer == "foundation" and target == PACKAGE and src_layer != "foundation":
            # `from coresweep import x` is judged by the submodule x, listed separately.
            continue
        if dst_layer not in ALLOWED[src_layer]:
            bad.add(f"{source} ({src_layer}) -> {target} ({dst_layer})  line {line}")
    return sorted(bad)


def test_walker_sees_known_edges():
    found = {(source, target) for source, target, *_ in edges()}
    assert ("coresweep.cli", "coresweep.experiments") in found or any(
        s == "coresweep.cli" and t.startswith("coresweep.experiments") for s, t in found
    ), "walker does not see that cli imports experiments"
    # relative and function-level imports resolve like absolute ones
    assert _resolve("coresweep.report.build", False, 1, "inputs") == "coresweep.report.inputs"
    assert _resolve("coresweep.report", True, 1, "inputs") == "coresweep.report.inputs"
    assert _resolve("coresweep.report.plots.x", False, 2, "html") == "coresweep.report.html"
    assert len(found) > 50


def test_walker_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / PACKAGE
    (pkg / "analysis").mkdir(parents=True)
    (pkg / "experiments").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "analysis" / "__init__.py").write_text("")
    (pkg / "experiments" / "__init__.py").write_text("X = 1\n")
    (pkg / "experiments" / "base.py").write_text("")
    (pkg / "analysis" / "rule.py").write_text(
        "def f():\n    from ..experiments import X\n    return X\n"
    )
    (pkg / "analysis" / "other.py").write_text("from coresweep.experiments import base\n")
    assert violations(pkg) == [
        "coresweep.analysis.other (analysis) -> coresweep.experiments (experiments)  line 1",
        "coresweep.analysis.other (analysis) -> coresweep.experiments.base (experiments)  line 1",
        "coresweep.analysis.rule (analysis) -> coresweep.experiments (experiments)  line 2",
    ]


def test_imports_follow_layers():
    bad = violations()
    assert not bad, (
        f"{len(bad)} import(s) cross the layers of DESIGN.md (source -> imported):\n"
        + "\n".join("  " + b for b in bad)
    )


def _backend_name_tests(tree: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    """Places that test a value against a registered backend's name: `x == "threads"`,
    `x in ("serial", ...)`, `x.startswith("dask")` (a prefix of a registered name)."""

    def literals(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return [s for e in node.elts for s in literals(e)]
        return []

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                hits = [s for s in literals(side) if s in names]
                found += [(node.lineno, s) for s in hits]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("startswith", "endswith")
        ):
            for arg in node.args:
                hits = [s for s in literals(arg) if any(n.startswith(s) for n in names)]
                found += [(node.lineno, s) for s in hits]
    return found


def test_nothing_outside_the_backends_tests_a_backend_name():
    """A backend declares what it is (its descriptor); nothing else compares a value with a
    registered backend's name to decide what that backend can do."""
    from coresweep.backends import BACKENDS

    names = set(BACKENDS)
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "backends":
            continue
        for line, name in _backend_name_tests(ast.parse(path.read_text()), names):
            offenders.append(f"{rel}:{line} tests the backend name {name!r}")
    assert not offenders, "\n".join(offenders)


def test_the_backend_name_check_finds_what_it_looks_for():
    names = {"serial", "dask-processes"}
    code = 'a == "serial"\nb in ("x", "dask-processes")\nc.startswith("dask")\nd == "other"\n'
    assert _backend_name_tests(ast.parse(code), names) == [
        (1, "serial"),
        (2, "dask-processes"),
        (3, "dask"),
    ]


def _string_parts(node: ast.AST) -> list[str | None] | None:
    """The literal parts of a string built at run time, None for each hole: an f-string, a
    `+` chain holding a string literal, `"...%s" % x` or `"...{}".format(x)`; None for a
    node that builds no string."""
    if isinstance(node, ast.JoinedStr):
        return [v.value if isinstance(v, ast.Constant) else None for v in node.values]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string_parts(node.left), _string_parts(node.right)
        if left is None and right is None:
            return None
        return (left or [None]) + (right or [None])
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mod)
        and isinstance(node.left, ast.Constant)
        and isinstance(node.left.value, str)
    ):
        return _split_at(node.left.value, r"%[-#0 +]*\d*(?:\.\d+)?[sdifrxa]")
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
    ):
        return _split_at(node.func.value.value, r"\{[^{}]*\}")
    return None


def _split_at(template: str, hole: str) -> list[str | None]:
    """A format string's literal parts with a None for each placeholder."""
    texts = re.split(hole, template)
    return [part for text in texts for part in (None, text)][1:]


def _names_it_can_build(parts: list[str | None], names: set[str]) -> list[str]:
    """The registered names a built string can become: its literal parts in order, any text
    in its holes, sharing a whole word (between dashes) with the name, so `f"p{n}"` is no
    prefix of "processes-fork" but `f"processes-{m}"` is."""
    literals = [p for p in parts if p]
    if None not in parts or not literals:
        return []  # a constant, or nothing but holes
    pattern = re.compile("".join(".+" if p is None else re.escape(p) for p in parts))
    words = {w for p in literals for w in re.split(r"[^A-Za-z0-9]+", p) if w}
    return sorted(n for n in names if pattern.fullmatch(n) and words & set(n.split("-")))


def _built_backend_names(tree: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    """Strings built at run time (f-strings, concatenation, % and .format) that can become a
    registered backend's name, e.g. `f"processes-{start_method}"`: (line, the expression)."""
    found, judged = [], set()
    for node in ast.walk(tree):  # parents before children: a chain is judged whole, once
        if id(node) in judged:
            continue
        parts = _string_parts(node)
        if parts is None:
            continue
        judged |= {id(n) for n in _chain(node)}
        if _names_it_can_build(parts, names):
            found.append((node.lineno, ast.unparse(node)))
    return sorted(found)


def _chain(node: ast.AST) -> list[ast.AST]:
    """The node and, for a `+` chain, its links and operands (what `_string_parts` joined;
    a string nested in a hole is judged on its own)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [node, *_chain(node.left), *_chain(node.right)]
    return [node]


def _backend_class_uses(tree: ast.AST, classes: set[str]) -> list[tuple[int, str]]:
    """Backend classes named directly: `from coresweep.backends.x import SomeBackend`,
    `from coresweep.backends import SomeBackend`, or `module.SomeBackend`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and "backends" in (node.module or "").split("."):
            found += [(node.lineno, a.name) for a in node.names if a.name in classes]
        elif isinstance(node, ast.Attribute) and node.attr in classes:
            found.append((node.lineno, node.attr))
    return sorted(found)


def _backend_classes() -> set[str]:
    """Names of every execution-model class of coresweep.backends (the interface excluded)."""
    from coresweep.backends import Backend

    out, todo = set(), list(Backend.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith(f"{PACKAGE}.backends"):
            out.add(cls.__name__)
    return out


def _outside_backends() -> list[tuple[Path, ast.AST]]:
    return [
        (path.relative_to(SRC), ast.parse(path.read_text()))
        for path in sorted(SRC.rglob("*.py"))
        if path.relative_to(SRC).parts[0] != "backends"
    ]


def test_nothing_outside_the_backends_builds_a_backend_name():
    """Pools are picked by descriptor (`coresweep.backends.select`), not by gluing a name."""
    from coresweep.backends import BACKENDS

    offenders = [
        f"{rel}:{line} builds a backend name: {expr}"
        for rel, tree in _outside_backends()
        for line, expr in _built_backend_names(tree, set(BACKENDS))
    ]
    assert not offenders, "\n".join(offenders)


def test_nothing_outside_the_backends_names_a_backend_class():
    """Backends are made through the registry (`make_backend`, `BACKENDS`), never by class."""
    offenders = [
        f"{rel}:{line} names the backend class {name}"
        for rel, tree in _outside_backends()
        for line, name in _backend_class_uses(tree, _backend_classes())
    ]
    assert not offenders, "\n".join(offenders)


def test_the_built_name_check_finds_what_it_looks_for():
    names = {"processes-fork", "processes-spawn", "dask-processes", "threads"}
    code = (
        'a = f"processes-{m}"\n'  # 1: a prefix, a hole
        'b = "dask-" + kind\n'  # 2: concatenation
        'c = kind + "-processes"\n'  # 3: a suffix
        'd = "processes-%s" % m\n'  # 4: printf style
        'e = "{}-processes".format(k)\n'  # 5: str.format
        'f = f"p{workers}"\n'  # no whole word of a name
        'g = f"{a}-{b}"\n'  # no word at all
        'h = f"{n} threads"\n'  # cannot become a name (a space)
        'i = "processes-fork"\n'  # a constant: the comparison check's business
        "j = f\"x{f'processes-{m}'}\"\n"  # 10: nested in a hole of another string
        'k = "th" + "reads"\n'  # two constants, no hole
        'l = ("dask-" + a) + b\n'  # 12: one chain, reported once
    )
    assert _built_backend_names(ast.parse(code), names) == [
        (1, "f'processes-{m}'"),
        (2, "'dask-' + kind"),
        (3, "kind + '-processes'"),
        (4, "'processes-%s' % m"),
        (5, "'{}-processes'.format(k)"),
        (10, "f'processes-{m}'"),
        (12, "'dask-' + a + b"),
    ]


def test_the_backend_class_check_finds_what_it_looks_for():
    classes = _backend_classes()
    assert {"DaskProcessesBackend", "SerialBackend", "ForkBackend"} <= classes
    assert "Backend" not in classes  # the interface is what everyone may use
    code = (
        "from coresweep.backends.dask_local import DaskProcessesBackend\n"  # 1
        "from coresweep.backends import SerialBackend, make_backend\n"  # 2
        "import coresweep.backends.processes as pr\n"
        "x = pr.ForkBackend(2)\n"  # 4
        "from coresweep.backends.base import Backend, chain_init\n"
        "from coresweep.backends import BACKENDS, select\n"
        "from ..backends.loky import LokyBackend\n"  # 7: relative
    )
    assert _backend_class_uses(ast.parse(code), classes) == [
        (1, "DaskProcessesBackend"),
        (2, "SerialBackend"),
        (4, "ForkBackend"),
        (7, "LokyBackend"),
    ]


def test_select_picks_the_one_backend_with_the_given_facts():
    from coresweep.backends import BACKENDS, select

    assert select(isolation="process", start_method="fork") == "processes-fork"
    assert select(isolation="process", dispatch="scheduler") == "dask-processes"
    name = select(isolation="thread", dispatch="caller", batch=False)
    assert BACKENDS[name].descriptor.gil_bound and not BACKENDS[name].descriptor.batch
    with pytest.raises(ValueError, match=r"backends have \{'isolation': 'process'\}.*'loky'"):
        select(isolation="process")  # several
    with pytest.raises(ValueError, match=r"0 backends have \{'start_method': 'telepathy'\}"):
        select(start_method="telepathy")
    with pytest.raises(ValueError, match=r"\['colour'\] are no descriptor fields"):
        select(colour="blue")
