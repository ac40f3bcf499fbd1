"""Timeouts and retry policies of saga steps, one per kind of step. Pure module."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from customer_service.errors import BUSINESS_ERROR_TYPES, HookFailedError

# Errors no retry can change: a step failing with one ends at once and the saga compensates.
FINAL_ERROR_TYPES = frozenset({*BUSINESS_ERROR_TYPES, HookFailedError.type})

# Forward steps: infrastructure errors retry with backoff for hours (a database outage is waited
# out); business errors fail at once.
FORWARD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=sorted(FINAL_ERROR_TYPES),
)
FORWARD_START_TO_CLOSE = timedelta(seconds=30)

# Every ordinary activity heartbeats (activities.heartbeat) a few times within this; an attempt
# whose worker died is retried elsewhere after it, not after the start-to-close timeout. The
# worker sends heartbeats at most HEARTBEAT_THROTTLE apart (the SDK's default, 80% of the
# timeout, would leave 0.2 s for a busy event loop). docs/reliability.md has the measurements.
HEARTBEAT_TIMEOUT: timedelta | None = timedelta(seconds=1)
HEARTBEAT_THROTTLE = timedelta(milliseconds=250)
FORWARD_SCHEDULE_TO_CLOSE = timedelta(hours=6)

# The run's first forward step runs as a local activity with one attempt; longer than this (say,
# waiting on row locks), or any infrastructure failure, and it is handed to an ordinary activity.
LOCAL_ATTEMPT = RetryPolicy(maximum_attempts=1)
LOCAL_START_TO_CLOSE = timedelta(seconds=5)

# Compensations never give up on infrastructure errors; only a business error (a conflict: the
# row was changed by someone else) ends one, and then the run fails as CompensationFailed.
COMPENSATION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=list(BUSINESS_ERROR_TYPES),
)
COMPENSATION_START_TO_CLOSE = timedelta(seconds=30)
