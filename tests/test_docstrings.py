"""Every public function and method of the package says what its arguments are.

The API reference (mkdocs.yml, Google style) renders a docstring's ``Args:`` section as a parameter table;
a function without one shows its signature alone. "Public" is what ``seedance_nb.__all__`` exports: its
functions, and the public methods (inherited ones included) of its classes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import seedance_nb

#: Public functions allowed, for now, without an ``Args:`` section. Remove a name once its docstring has
#: one; the second test fails until you do.
PENDING: set[str] = set()


def _arguments(function: Callable[..., Any]) -> list[str]:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return []
    return [name for name in parameters if name not in ("self", "cls")]


def _public_callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    for name in sorted(seedance_nb.__all__):
        if name.startswith("__"):
            continue
        obj = getattr(seedance_nb, name)
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj):
            seen: set[str] = set()
            for klass in obj.__mro__:
                if not klass.__module__.startswith("seedance_nb"):
                    continue
                for attr, value in vars(klass).items():
                    if attr.startswith("_") or attr in seen:
                        continue
                    seen.add(attr)
                    function = value.__func__ if isinstance(value, staticmethod | classmethod) else value
                    if inspect.isfunction(function):
                        yield f"{name}.{attr}", function


def _undocumented() -> dict[str, str]:
    missing = {}
    for name, function in _public_callables():
        doc = inspect.getdoc(function) or ""
        if not doc:
            missing[name] = "no docstring"
        elif _arguments(function) and "Args:" not in doc:
            missing[name] = f"no Args: section for {', '.join(_arguments(function))}"
    return missing


def test_every_public_function_and_method_describes_its_arguments():
    missing = {name: why for name, why in _undocumented().items() if name not in PENDING}
    assert not missing, "\n".join(f"{name}: {why}" for name, why in sorted(missing.items()))


def test_the_pending_list_holds_only_what_is_still_missing():
    done = PENDING - set(_undocumented())
    assert not done, f"documented now, remove from PENDING: {sorted(done)}"


def test_the_check_sees_the_package():
    names = dict(_public_callables())
    # Functions, methods of exported classes and of their mixins are all in view.
    assert {"estimate_cost", "Sweep.run", "Sweep.vote", "Sweep.rank", "AsyncClient.submit"} <= set(names)
