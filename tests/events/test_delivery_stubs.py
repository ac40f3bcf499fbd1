"""The delivery workflows call `activities.delivery_stubs`; the worker registers
`DeliveryActivities`' methods: both sides must agree (as for the customer activities)."""

from __future__ import annotations

from activities import delivery_stubs
from activities.delivery_activities import DeliveryActivities
from tests.test_activity_stubs import mismatches


def test_every_delivery_stub_has_its_activity_with_the_same_types() -> None:
    assert mismatches(delivery_stubs, DeliveryActivities) == []
    assert len([n for n in dir(DeliveryActivities) if not n.startswith("_")]) >= 7
