"""The workflows call activities through the typed stubs of `activities/stubs.py`; the worker
registers `CustomerActivities`' methods. Both sides must agree on every activity's name, input
type and result type, or a workflow would call an activity that is not there or decode its
result as the wrong type."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

from temporalio import activity

from activities import stubs
from activities.contracts import Undo
from activities.customer_activities import CustomerActivities
from auth.store import AuthStore


def _activity_name(fn: Callable[..., Any]) -> str | None:
    definition = getattr(fn, "__temporal_activity_definition", None)
    return None if definition is None else str(definition.name)


def _signature(fn: Callable[..., Any]) -> tuple[list[Any], Any]:
    hints = get_type_hints(fn)
    result = hints.pop("return", None)
    params = [p for p in inspect.signature(fn).parameters if p != "self"]
    return [hints.get(p) for p in params], result


def _by_name(functions: list[Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    return {name: fn for fn in functions if (name := _activity_name(fn)) is not None}


def mismatches(stub_module: object, activities: type) -> list[str]:
    """Every disagreement between the stubs in `stub_module` and the activities of `activities`."""
    stub_fns = _by_name([fn for _, fn in inspect.getmembers(stub_module, inspect.isfunction)])
    real_fns = _by_name([fn for _, fn in inspect.getmembers(activities, inspect.isfunction)])
    problems = [f"stub without activity: {n}" for n in sorted(stub_fns.keys() - real_fns.keys())]
    problems += [f"activity without stub: {n}" for n in sorted(real_fns.keys() - stub_fns.keys())]
    for name in sorted(stub_fns.keys() & real_fns.keys()):
        stub, real = _signature(stub_fns[name]), _signature(real_fns[name])
        if stub[0] != real[0]:
            problems.append(f"{name}: input {stub[0]} in the stub, {real[0]} in the activity")
        if stub[1] != real[1]:
            problems.append(f"{name}: result {stub[1]} in the stub, {real[1]} in the activity")
    return problems


def test_every_stub_has_its_activity_with_the_same_types() -> None:
    assert mismatches(stubs, CustomerActivities) == []
    activities = CustomerActivities(None, auth=AuthStore(None))  # type: ignore[arg-type]
    assert len(_by_name(activities.all())) == 32


class _Drifted:
    """Activities that drifted from the stubs: a result type changed, one renamed."""

    @activity.defn
    async def undo_create_customers(self, undo: Undo) -> int:
        return 0

    @activity.defn(name="undo_create_customer")
    async def renamed(self, undo: Undo) -> bool:
        return True


class _Stubs:
    @staticmethod
    @activity.defn
    async def undo_create_customers(undo: Undo) -> bool:
        return True

    @staticmethod
    @activity.defn
    async def undo_update_customers(undo: Undo) -> bool:
        return True


def test_the_check_finds_drift() -> None:
    stub_module = type("module", (), {})()
    for name in ("undo_create_customers", "undo_update_customers"):
        setattr(stub_module, name, getattr(_Stubs, name))
    assert mismatches(stub_module, _Drifted) == [
        "stub without activity: undo_update_customers",
        "activity without stub: undo_create_customer",
        "undo_create_customers: result <class 'bool'> in the stub, <class 'int'> in the activity",
    ]
