"""A user's own function as a kernel: `package.module:function` plus how to build its tasks.

A spec names everything by import reference, so it travels inside a point's JSON params and
a fresh `coresweep measure` process (or a spawned worker) rebuilds the same kernel:

    callable: "package.module:function"   # called as function(*args) for every task
    tasks: "package.module:factory"       # a task factory, in one of three forms (below)
    args: [[1, 2], [3, 4]]                # or: the argument sets themselves (cycled to ntasks)
    check: "package.module:check"         # optional: check(tasks, results) -> bool | (bool, str)
    releases_gil: null                    # the user's note; the runs decide, not the note
    subinterpreter_safe: false            # true: the function, its module and its tasks
                                          # import nothing a subinterpreter refuses (NumPy,
                                          # Numba, most C extensions); only then does it
                                          # run on a backend of isolation "interpreter"
    size: null                            # size= for the factory when no experiment sets
                                          # one (null/0: the factory's own default)
    unit: task                            # "sample": work grows linearly with size
    path: ["."]                           # directories put on sys.path before importing

The task factory may take 0, 1 or 2 positional parameters (read from its signature):

    factory()              -> a fixed list of argument tuples, used like `args`: as given
                              when nothing asks for a task count, else cycled to ntasks
    factory(ntasks)        -> ntasks argument tuples
    factory(ntasks, seed)  -> ntasks argument tuples, placed by the seed

Each form is also given size=... when it has a `size` parameter (or **kwargs) and a size is
set. Any other shape (more required parameters, required keyword-only ones, not a callable),
a factory that raises, or one that returns anything but a list of argument tuples is a
UserKernelError naming the factory and what was expected.

Workers call the function by its reference, not by pickling it, so a Numba dispatcher is
not re-serialised per task. Whether a backend may run it at all is still decided by the
pickler that backend ships functions with (its descriptor's `pickler`, which the caller
passes in: kernels know no backends): pickle refuses lambdas and closures; cloudpickle
takes them by value.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import os
import pickle
import reprlib
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from coresweep.config_model import UserKernel, defaults, keys_of
from coresweep.kernels.base import Check, Kernel

log = logging.getLogger("coresweep")
KIND = "user"
#: the keys of a user kernel, and their defaults: the config model's `user_kernels.*` section
SPEC_DEFAULTS = defaults(UserKernel)
SPEC_KEYS = tuple(name for name, *_ in keys_of(UserKernel))
#: "sample": a task of size s is s units of work (task-size experiment); "task": one unit per task
UNITS = tuple(next(k.rules["enum"] for n, _, _, k in keys_of(UserKernel) if n == "unit"))
#: the task factory forms, as every message about a factory's shape names them
FACTORY_FORMS = (
    "factory() -> a list of argument tuples, factory(ntasks) or factory(ntasks, seed) -> "
    "ntasks argument tuples (each may take a size= keyword too)"
)


class UserKernelError(ValueError):
    """A user kernel that cannot run: the message names the callable and the problem."""


@dataclass(frozen=True)
class UserSpec:
    """A user kernel as config gives it; JSON-able so a point can carry it."""

    name: str
    callable: str
    tasks: str | None
    args: tuple[tuple[Any, ...], ...] | None
    check: str | None
    releases_gil: bool | None
    size: int | None  # None: the factory's own default
    unit: str
    path: tuple[str, ...]
    subinterpreter_safe: bool  # declared by the user; not safe unless declared

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("name")
        d["args"] = None if self.args is None else [list(a) for a in self.args]
        d["path"] = list(self.path)
        return d


def parse_spec(name: str, raw: dict[str, Any]) -> UserSpec:
    """A checked UserSpec; path entries made absolute so every process resolves the same."""
    if not isinstance(raw, dict):
        raise UserKernelError(f"user kernel {name!r}: expected a mapping, got {raw!r}")
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        raise UserKernelError(
            f"user kernel {name!r}: unknown key(s) {unknown}; allowed: {list(SPEC_KEYS)}"
        )
    if not raw.get("callable"):
        raise UserKernelError(
            f"user kernel {name!r}: 'callable' (package.module:function) is required"
        )
    spec = {**SPEC_DEFAULTS, **{k: v for k, v in raw.items() if v is not None}}
    tasks, args = spec["tasks"], spec["args"]
    if (tasks is None) == (args is None):
        raise UserKernelError(
            f"user kernel {name!r}: give exactly one of 'tasks' (a factory "
            "package.module:factory) or 'args' (a list of argument lists)"
        )
    for key in ("callable", "tasks", "check"):
        if spec[key] is not None:
            split_ref(spec[key], f"user kernel {name!r}: {key}")
    if args is not None and (not isinstance(args, list | tuple) or not args):
        raise UserKernelError(f"user kernel {name!r}: 'args' must be a non-empty list")
    if spec["unit"] not in UNITS:
        raise UserKernelError(
            f"user kernel {name!r}: unit {spec['unit']!r} not one of {list(UNITS)}"
        )
    return UserSpec(
        name=name,
        callable=spec["callable"],
        tasks=tasks,
        args=None if args is None else tuple(as_args(a) for a in args),
        check=spec["check"],
        releases_gil=spec["releases_gil"],
        size=int(spec["size"]) if spec["size"] else None,
        unit=spec["unit"],
        path=tuple(os.path.abspath(p) for p in spec["path"]),
        subinterpreter_safe=bool(spec["subinterpreter_safe"]),
    )


def split_ref(ref: str, what: str = "callable") -> tuple[str, str]:
    """('package.module', 'attr.path') from 'package.module:attr.path'."""
    module, sep, attr = str(ref).partition(":")
    if not sep or not module or not attr:
        raise UserKernelError(
            f"{what} {ref!r}: expected 'package.module:function' (module, a colon, the name)"
        )
    return module, attr


def _add_path(path: Sequence[str]) -> None:
    for p in reversed(path):
        if p not in sys.path:
            sys.path.insert(0, p)


@functools.lru_cache(maxsize=64)
def lookup(ref: str, path: tuple[str, ...] = ()) -> Any:
    """The object named by 'package.module:attr', callable or not; an error naming what
    failed to import."""
    module, attr = split_ref(ref)
    _add_path(path)
    try:
        obj: Any = importlib.import_module(module)
    except Exception as exc:  # the user's module may raise anything at import time
        raise UserKernelError(
            f"cannot import {ref!r}: importing module {module!r} raised "
            f"{type(exc).__name__}: {exc} (sys.path starts with {sys.path[:3]})"
        ) from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UserKernelError(
                f"cannot import {ref!r}: module {module!r} has no attribute {attr!r}"
            ) from None
    return obj


def resolve(ref: str, path: tuple[str, ...] = ()) -> Any:
    """The callable named by 'package.module:attr'; an error naming what failed to import."""
    obj = lookup(ref, path)
    if not callable(obj):
        raise UserKernelError(f"{ref!r} is a {type(obj).__name__}, not a callable")
    return obj


def as_args(item: Any) -> tuple[Any, ...]:
    """One task's positional arguments: a tuple or list is the arguments, anything else one."""
    return tuple(item) if isinstance(item, list | tuple) else (item,)


def call_task(ref: str, path: tuple[str, ...], args: Sequence[Any]) -> Any:
    """Run the user's function on one task (module-level, so it pickles by reference)."""
    return resolve(ref, path)(*args)


def call_batch(ref: str, path: tuple[str, ...], batch: Sequence[Sequence[Any]]) -> list[Any]:
    """Run the user's function on a batch of tasks in one dispatch."""
    fn = resolve(ref, path)
    return [fn(*a) for a in batch]


def noop(args: Sequence[Any]) -> None:
    """Receives a task and does nothing: what dispatching one task costs on its own."""
    return None


def warm(ref: str, path: tuple[str, ...]) -> None:
    """Import the user's module in this worker, so start-up holds the import, not task 1."""
    resolve(ref, path)


def make_user_tasks(
    spec: UserSpec, ntasks: int | None, seed: int, size: int | None = None
) -> list[tuple[Any, ...]]:
    """ntasks argument tuples from the factory or the args list; errors name the factory.

    A fixed list (`args`, or a factory without parameters) is used as given when ntasks
    is None and cycled to ntasks otherwise; a factory of ntasks makes 8 when ntasks is None.
    """
    if spec.args is not None:
        return _cycled(spec.args, ntasks)
    assert spec.tasks is not None
    factory, nparams = task_factory(spec)
    n = ntasks if ntasks is not None else 8
    if size is None or (size == 0 and spec.unit == "task"):
        size = spec.size  # None: leave the factory its own default
    kwargs = {"size": size} if size is not None and _takes_size(factory) else {}
    args = (n, seed)[:nparams]
    what = f"user kernel {spec.name!r}: task factory {spec.tasks!r}"
    shown = [str(a) for a in args] + [f"{k}={v}" for k, v in kwargs.items()]
    call = f"factory({', '.join(shown)})"
    try:
        made = factory(*args, **kwargs)
        tasks = _task_list(made, what)
    except UserKernelError:
        raise
    except Exception as exc:
        raise UserKernelError(
            f"{what} raised {type(exc).__name__}: {exc} (called as {call})"
        ) from exc
    if nparams == 0:
        return _cycled(tasks, ntasks)
    if len(tasks) != n:
        raise UserKernelError(f"{what} returned {len(tasks)} tasks, asked for {n} ({call})")
    return tasks


def _cycled(tasks: Sequence[tuple[Any, ...]], ntasks: int | None) -> list[tuple[Any, ...]]:
    n = len(tasks) if ntasks is None else ntasks
    return [tasks[i % len(tasks)] for i in range(n)]


def _task_list(made: Any, what: str) -> list[tuple[Any, ...]]:
    """The factory's result as argument tuples, or an error saying what it returned."""
    if isinstance(made, str | bytes | Mapping) or not isinstance(made, Iterable):
        raise UserKernelError(
            f"{what} returned {_shown(made)}, expected a list of argument tuples, "
            "e.g. [(1, 2), (3, 4)]"
        )
    tasks = [as_args(t) for t in made]
    if not tasks:
        raise UserKernelError(f"{what} returned no tasks, expected a list of argument tuples")
    return tasks


def _shown(obj: Any) -> str:
    return "None" if obj is None else f"a {type(obj).__name__} {reprlib.repr(obj)}"


def task_factory(spec: UserSpec) -> tuple[Callable[..., Any], int]:
    """The spec's task factory and how many positional arguments it takes: 0, 1 or 2."""
    assert spec.tasks is not None
    fn = lookup(spec.tasks, spec.path)
    what = f"user kernel {spec.name!r}: task factory {spec.tasks!r}"
    if not callable(fn):
        raise UserKernelError(
            f"{what} is a {type(fn).__name__}, not a callable; expected {FACTORY_FORMS}"
        )
    return fn, factory_params(fn, what)


def factory_params(fn: Callable[..., Any], what: str = "task factory") -> int:
    """0, 1 (ntasks) or 2 (ntasks, seed): the most of these fn accepts by position.

    `size` is the keyword, never counted. A factory whose signature cannot be read (some
    builtins) is called the full way, factory(ntasks, seed).
    """
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 2
    positional, most = 0, 0
    required_kw = []
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            most = 2
        elif p.kind is p.KEYWORD_ONLY and p.default is p.empty and p.name != "size":
            required_kw.append(p.name)
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and not (
            p.name == "size" and p.kind is p.POSITIONAL_OR_KEYWORD
        ):
            most += 1
            positional += p.default is p.empty
    if positional > 2 or required_kw:
        bare = sig.replace(
            parameters=[p.replace(annotation=p.empty) for p in sig.parameters.values()],
            return_annotation=sig.empty,
        )
        extra = f" and required keyword(s) {', '.join(required_kw)}" if required_kw else ""
        raise UserKernelError(
            f"{what} takes {bare}: {positional} required positional parameter(s){extra}; "
            f"expected {FACTORY_FORMS}"
        )
    return min(2, most)


def fixed_tasks(spec: UserSpec) -> bool:
    """True when the tasks are a fixed list (`args`, or a factory without parameters)."""
    return spec.args is not None or task_factory(spec)[1] == 0


def _takes_size(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "size" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def check_results(spec: UserSpec, tasks: Sequence[Any], results: Sequence[Any]) -> Check:
    """The user's reference check; a check that raises counts as failed, with its error."""
    if spec.check is None:
        return Check(True, "no reference check given")
    fn = resolve(spec.check, spec.path)
    try:
        out = fn(list(tasks), list(results))
    except Exception as exc:
        return Check(False, f"reference check {spec.check!r} raised {type(exc).__name__}: {exc}")
    if isinstance(out, Check):
        return out
    if isinstance(out, tuple) and len(out) == 2:
        ok, detail = bool(out[0]), str(out[1])
    else:
        ok, detail = bool(out), ""
    verdict = "passed" if ok else "failed"
    return Check(
        ok, f"reference check {spec.check!r} {verdict}" + (f": {detail}" if detail else "")
    )


def _work(unit: str, size: int | None) -> float:
    return float(size or 0) if unit == "sample" else 1.0


def pickle_problem(obj: Any, pickler: str) -> str | None:
    """None when obj pickles with that pickler ("none": nothing is pickled), else why not
    (in the pickler's words)."""
    if pickler == "none":
        return None
    if pickler == "cloudpickle":
        import cloudpickle

        dumps = cloudpickle.dumps
    else:
        dumps = pickle.dumps
    try:
        dumps(obj)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass(frozen=True)
class UserKernel(Kernel):
    """A Kernel whose tasks are the user's argument tuples."""

    spec: UserSpec | None = None

    def make_tasks(self, size: int, ntasks: int, seed: int) -> list[Any]:  # type: ignore[override]
        assert self.spec is not None
        return make_user_tasks(self.spec, ntasks, seed, size)


def build_kernel(name: str, raw: dict[str, Any] | UserSpec) -> UserKernel:
    """A Kernel from a user spec; imports the callable now so a bad reference fails early."""
    spec = raw if isinstance(raw, UserSpec) else parse_spec(name, raw)
    fn = resolve(spec.callable, spec.path)
    if spec.tasks is not None:
        task_factory(spec)  # its shape, too, fails early
    if spec.check is not None:
        resolve(spec.check, spec.path)
    return UserKernel(
        name=name,
        kind=KIND,
        unit=spec.unit,
        run=functools.partial(call_task, spec.callable, spec.path),
        work=functools.partial(_work, spec.unit),
        check=functools.partial(check_results, spec),
        compile=functools.partial(warm, spec.callable, spec.path),
        description=f"user function {spec.callable}: {(fn.__doc__ or '').strip()[:80]}",
        subinterpreter_safe=spec.subinterpreter_safe,
        spec=spec,
    )


def unpicklable(spec: UserSpec, pickler: str) -> str | None:
    """None when `pickler` can ship spec's function to a worker, else why not."""
    problem = pickle_problem(resolve(spec.callable, spec.path), pickler)
    if problem is None:
        return None
    return f"{spec.callable} cannot be pickled by {pickler} (a lambda or a closure?): {problem}"


def isolation_problem(kernel: Kernel, isolation: str | None) -> str | None:
    """None when a worker of this isolation can run the kernel, else why not: a
    subinterpreter ("interpreter") runs only a kernel that declares `subinterpreter_safe`."""
    if isolation != "interpreter" or kernel.subinterpreter_safe:
        return None
    return (
        "it does not declare subinterpreter_safe (NumPy, Numba and most C extensions "
        "refuse to load in a subinterpreter)"
    )


def runs_on(kernel: Kernel, pickler: str, where: str, isolation: str | None = None) -> bool:
    """False (with a warning naming `where`) when `pickler` cannot ship this user kernel, or
    when a worker of `isolation` cannot run this kernel (isolation_problem).

    pickler: how the backend that would run it ships functions — its descriptor's `pickler`
    ("none", "pickle", "cloudpickle"); built-in kernels are module-level functions and
    always ship. isolation: its descriptor's `isolation` (None: not checked).
    """
    problem = isolation_problem(kernel, isolation)
    if problem:
        log.warning("kernel %s: %s; not measured on %s", kernel.name, problem, where)
        return False
    spec = getattr(kernel, "spec", None)
    problem = None if spec is None else unpicklable(spec, pickler)
    if problem:
        log.warning("user kernel %s: %s; not measured on %s", kernel.name, problem, where)
    return problem is None
