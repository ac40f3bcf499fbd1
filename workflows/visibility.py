"""What the Web UI shows of a run: search attributes, outcome metrics, summaries in words.

Search-attribute changes are gathered and sent as one upsert per step run as an ordinary
activity, and at the run's end (each upsert is a history event and a visibility write): a run of
one workflow task upserts once. What the caller knew gives the run its attributes at start (the
client tags a create's emails), and values tagged `at_end` (the ids a create mints, which nobody
can search for before the run answers) wait for the run's end: a create with a hook step upserts
once too. `SearchAttributes` is used only from workflow code (it calls `temporalio.workflow`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

from codec import tags
from workflows.contracts import SagaState

CUSTOMER_ID = SearchAttributeKey.for_keyword_list("CustomerId")
CUSTOMER_EMAIL = SearchAttributeKey.for_keyword_list("CustomerEmail")
CUSTOMER_GROUP_ID = SearchAttributeKey.for_keyword_list("CustomerGroupId")
SAGA_STATUS = SearchAttributeKey.for_keyword("SagaStatus")
# Bulk runs (imports, exports): their status, the file's name, the rows read so far.
BULK_STATUS = SearchAttributeKey.for_keyword("BulkStatus")
BULK_FILE = SearchAttributeKey.for_keyword("BulkFile")
BULK_ROWS = SearchAttributeKey.for_int("BulkRows")
MAX_VALUES = 100  # per keyword-list attribute
# The server refuses (and terminates the run, its writes left in place) a search attribute value
# over 2 KiB: a list keeps its first values that fit in this many bytes of JSON.
MAX_VALUE_BYTES = 1800


def _fit(values: list[str]) -> list[str]:
    size = 2
    for count, value in enumerate(values[:MAX_VALUES]):
        size += len(value.encode()) + 3  # quotes and comma
        if size > MAX_VALUE_BYTES:
            return values[:count]
    return values[:MAX_VALUES]


def email_values(emails: Sequence[str | None]) -> list[str]:
    """The `CustomerEmail` values of `emails` (keyed tags), as a run holds them."""
    return _fit(list(dict.fromkeys(tags.email_tag(e) for e in emails if e)))


class SearchAttributes:
    """The run's search attributes: changes pending until the next `flush` (those tagged
    `at_end`, until the run's end)."""

    def __init__(self) -> None:
        self._pending: dict[str, SearchAttributeUpdate[Any]] = {}
        # (customer_ids, emails, group_ids) tagged `at_end`
        self._at_end: list[tuple[Sequence[str], Sequence[str | None], Sequence[str]]] = []

    def tag(
        self,
        customer_ids: Sequence[str] = (),
        emails: Sequence[str | None] = (),
        group_ids: Sequence[str] = (),
        *,
        at_end: bool = False,
    ) -> None:
        """Make the run findable by the customers, emails (as keyed tags) and groups it touches;
        `at_end`: from the run's end on (see the module docstring)."""
        if at_end:
            self._at_end.append((customer_ids, emails, group_ids))
            return
        for key, values in (
            (CUSTOMER_ID, list(customer_ids)),
            (CUSTOMER_EMAIL, email_values(emails)),
            (CUSTOMER_GROUP_ID, list(group_ids)),
        ):
            current = self._current(key)
            merged = _fit(list(dict.fromkeys([*current, *values])))
            if merged != current:  # what the run already holds is not sent again
                self._pending[key.name] = key.value_set(merged)

    def status(self, status: SagaState) -> None:
        """(The client gives `running` at start: nothing to upsert until the status changes.)
        A run that ends also gives the values it tagged `at_end`."""
        if status in ("completed", "compensated", "compensation_failed"):
            for customer_ids, emails, group_ids in self._at_end:
                self.tag(customer_ids, emails, group_ids)
            self._at_end.clear()
        if SAGA_STATUS.name not in self._pending and status == self._status():
            return
        self._pending[SAGA_STATUS.name] = SAGA_STATUS.value_set(status)

    def _status(self) -> str | None:
        return workflow.info().typed_search_attributes.get(SAGA_STATUS)

    def flush(self) -> None:
        if self._pending:
            workflow.upsert_search_attributes(list(self._pending.values()))
            self._pending.clear()

    def _current(self, key: SearchAttributeKey[Sequence[str]]) -> list[str]:
        pending = self._pending.get(key.name)
        if pending is not None:
            return list(pending.value or [])
        return list(workflow.info().typed_search_attributes.get(key) or [])


def count_outcome(status: SagaState) -> None:
    workflow.metric_meter().create_counter(
        "customer_flows_saga_runs", "Saga runs that ended, by outcome"
    ).add(1, {"outcome": status})


def short(values: Sequence[str | None], limit: int = 3) -> str:
    """The first few values and how many more: "a, b, c and 4 more"."""
    shown = [v for v in values if v][:limit]
    more = len(values) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
