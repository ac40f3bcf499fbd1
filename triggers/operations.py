"""Operator actions beyond the customer workflows: the nightly schedules, erasure, and failed
event deliveries and webhook endpoints (`customers schedules|erase|events|webhooks`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleHandle,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from activities.delivery_activities import wake_relay
from activities.delivery_contracts import (
    DeliveryPolicy,
    EraseInput,
    ErasureResult,
    LaneRef,
    RelayInput,
    RetentionInput,
)
from customer_service.service.deliveries import Deliveries
from customer_service.validation import validate_id
from settings import Settings

NOTE_PREFIX = "customer-flows spec "


@dataclass(frozen=True)
class Desired:
    """A schedule as `apply` wants it: its workflow, input and cron."""

    id: str
    workflow: str
    arg: Any
    cron: str

    def fingerprint(self, task_queue: str) -> str:
        spec = [self.workflow, self.arg.model_dump(mode="json"), self.cron, task_queue]
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def schedule(self, task_queue: str) -> Schedule:
        return Schedule(
            action=ScheduleActionStartWorkflow(
                self.workflow,
                self.arg,
                id=f"{self.id}-run",
                task_queue=task_queue,
                static_summary=f"scheduled: {self.id}",
            ),
            spec=ScheduleSpec(cron_expressions=[self.cron]),
            state=ScheduleState(note=NOTE_PREFIX + self.fingerprint(task_queue)),
        )


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    return DeliveryPolicy(
        first_retry_seconds=settings.delivery_first_retry_seconds,
        max_interval_seconds=settings.delivery_max_interval_seconds,
        give_up_after_seconds=settings.delivery_give_up_after_seconds,
        attempt_timeout_seconds=settings.webhook_timeout_seconds,
    )


def desired_schedules(settings: Settings) -> list[Desired]:
    """The nightly invariant check (03:00 UTC) and retention (03:30 UTC)."""
    queue = settings.task_queue
    relay = RelayInput(task_queue=queue, policy=delivery_policy(settings))
    retention = RetentionInput(
        older_than_days=settings.retention_days, batch=settings.retention_batch
    )
    return [
        Desired(f"{queue}-invariant-check", "InvariantCheckWorkflow", relay, "0 3 * * *"),
        Desired(f"{queue}-retention", "RetentionWorkflow", retention, "30 3 * * *"),
    ]


class Operations:
    def __init__(
        self,
        client: Client,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self._deliveries = Deliveries(sessions) if sessions is not None else None

    # --- schedules -----------------------------------------------------------------------------

    async def apply_schedules(self) -> dict[str, str]:
        """Create or update the schedules (idempotent): schedule id → created / updated /
        unchanged. A schedule whose spec is as wanted is not touched (its pause state and
        history stay)."""
        outcome: dict[str, str] = {}
        queue = self.settings.task_queue
        for want in desired_schedules(self.settings):
            handle = self.client.get_schedule_handle(want.id)
            try:
                described = await handle.describe()
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                await self.client.create_schedule(want.id, want.schedule(queue))
                outcome[want.id] = "created"
                continue
            note = described.schedule.state.note or ""
            if note == NOTE_PREFIX + want.fingerprint(queue):
                outcome[want.id] = "unchanged"
                continue

            def replace(_: ScheduleUpdateInput, want: Desired = want) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=want.schedule(queue))

            await handle.update(replace)
            outcome[want.id] = "updated"
        return outcome

    def schedule(self, schedule_id: str) -> ScheduleHandle:
        return self.client.get_schedule_handle(schedule_id)

    # --- erasure -------------------------------------------------------------------------------

    async def start_erase(self, customer_id: str) -> WorkflowHandle[Any, ErasureResult]:
        """Start the erasure of one customer (a repeat joins or repeats it: same id)."""
        validate_id(customer_id, "customer_id")
        return await self.client.start_workflow(
            "EraseCustomerWorkflow",
            EraseInput(customer_id=customer_id),
            id=f"erase-customer-{customer_id}",
            task_queue=self.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            result_type=ErasureResult,
            static_summary=f"Erase customer {customer_id}",
        )

    # --- deliveries and webhooks ---------------------------------------------------------------

    @property
    def deliveries(self) -> Deliveries:
        assert self._deliveries is not None, "Operations needs the database for this"
        return self._deliveries

    async def redeliver(self, delivery_id: str) -> None:
        """Send a delivery again (same delivery id), then wake the relay."""
        validate_id(delivery_id, "delivery_id")
        lane = await self.deliveries.redeliver(delivery_id)
        relay = RelayInput(
            task_queue=self.settings.task_queue, policy=delivery_policy(self.settings)
        )
        await wake_relay(self.client, relay, [LaneRef(subscriber=lane.subscriber, lane=lane.lane)])
