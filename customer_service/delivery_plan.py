"""A run's released events planned for delivery by the statement that releases them.

Once released, a run's events are handed on to delivery: each gets the subscribers that want it
recorded (`event_plan`: the worker's local subscribers and the webhooks, at that moment), and one
`event_delivery` row per subscriber (`Deliveries.release`). In most runs nobody wants any of
them, and the plan is one `event_plan` row per event with no subscriber: the statement that
releases the events can write that itself (`plan_unwanted`), and the hand-over has nothing left
to do. When a subscriber wants one, the statement plans nothing and the hand-over plans them all
under the lanes' locks, as before.

A pivot step asks for this with `planning(local)` around its write: the write path reads the
local subscribers' event names from it and answers there whether its statement planned every
event of the run (`PivotPlanning.planned`). Without it, a write releases and plans nothing more.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from customer_service import events
from customer_service import models as m

ALL_EVENTS = "*"
PENDING = "pending"

_OUTBOX, _PLAN = m.OutboxEvent.__tablename__, m.EventPlan.__tablename__
_DELIVERY, _WEBHOOK = m.EventDelivery.__tablename__, m.WebhookEndpoint.__tablename__

# The group's events, read by the group's index alone. Filtered on `status = 'released'` in the
# same scan, PostgreSQL may AND that index with the partial index of every released event (which
# grows with the outbox until retention) whenever its statistics are missing or stale, as on a
# fresh database: 1,200-6,300 index entries read per run in a benchmark of 2026-12-01, where the
# group holds one to three events. A materialised CTE is planned on its own predicate only.
_GROUP_EVENTS = f"""group_events AS MATERIALIZED (
    SELECT id, name, status FROM "{_OUTBOX}" WHERE event_group_id = %(event_group_id)s
)"""
# The group's events released before this statement that have no plan yet (an earlier attempt's).
_EARLIER_UNPLANNED = f"""SELECT e.id, e.name FROM group_events e
    WHERE e.status = '{events.RELEASED}'
      AND NOT EXISTS (SELECT FROM "{_PLAN}" p WHERE p.event_id = e.id)"""


def plan_unwanted(fresh: str, only_if: str | None = None) -> str:
    """The CTEs that plan a run's events: `group_events`, the outbox rows of the run's group;
    `unplanned` (id, name), the events `fresh` selects (those this statement releases) and the
    group's earlier released ones without a plan (those only when `only_if` holds); `wanted`,
    those some subscriber wants (the local ones' names come as the `local` parameter, the
    webhooks are read here); and `planned`, which plans them all with no subscriber when none is
    wanted."""
    earlier = _EARLIER_UNPLANNED + (f" AND {only_if}" if only_if else "")
    return f"""{_GROUP_EVENTS}, unplanned AS (
    {fresh}
    UNION ALL {earlier}
), wanted AS (
    SELECT u.id FROM unplanned u
    WHERE u.name = ANY(%(local)s::text[]) OR '{ALL_EVENTS}' = ANY(%(local)s::text[])
       OR EXISTS (SELECT FROM "{_WEBHOOK}" h WHERE h.deleted_at IS NULL
                  AND (h.events ? u.name OR h.events ? '{ALL_EVENTS}'))
), planned AS (
    INSERT INTO "{_PLAN}" (event_id, subscribers)
    SELECT id, '[]'::jsonb FROM unplanned WHERE NOT EXISTS (SELECT FROM wanted)
    ON CONFLICT DO NOTHING
)"""


# Whether the statement left nothing to hand over: no event wanted, and no delivery of the
# group still pending (those need the relay woken).
NOTHING_TO_HAND_OVER = f"""(NOT EXISTS (SELECT FROM wanted) AND NOT EXISTS (
    SELECT FROM "{_DELIVERY}" d JOIN "{_OUTBOX}" e ON e.id = d.event_id
    WHERE d.status = '{PENDING}' AND e.event_group_id = %(event_group_id)s))"""


# The events a statement releases with its `released` and `queued` CTEs (`events.RELEASE_CTES`,
# the writes at once).
RELEASED_OR_QUEUED = "SELECT id, name FROM released UNION ALL SELECT id, name FROM queued"


def planning_of_released(only_if: str | None = None) -> tuple[str, str]:
    """For a statement whose `released` and `queued` CTEs release a run's events: the CTEs that
    plan them (`plan_unwanted`, to follow the statement's own CTEs, comma first) and its answer
    column `planned` (whether nothing is left to hand over); `only_if` gates the group's earlier
    unplanned events and the answer."""
    answer = f"({NOTHING_TO_HAND_OVER} AND {only_if})" if only_if else NOTHING_TO_HAND_OVER
    return ", " + plan_unwanted(RELEASED_OR_QUEUED, only_if), f", {answer} AS planned"


@dataclass
class PivotPlanning:
    """`local`: the event names the worker's local subscribers want. `planned`: set by the write
    whose statement released the run's events and planned every one of them."""

    local: list[str]
    planned: bool = False


_CURRENT: ContextVar[PivotPlanning | None] = ContextVar("pivot_planning", default=None)


@contextmanager
def planning(local: Sequence[str]) -> Iterator[PivotPlanning]:
    """Around a pivot step's write (one activity's task): its release also plans the events."""
    plan = PivotPlanning(sorted(set(local)))
    token = _CURRENT.set(plan)
    try:
        yield plan
    finally:
        _CURRENT.reset(token)


def current() -> PivotPlanning | None:
    return _CURRENT.get()


def left_unplanned() -> None:
    """This transaction released events its statement did not plan (rows written after it)."""
    plan = _CURRENT.get()
    if plan is not None:
        plan.planned = False
