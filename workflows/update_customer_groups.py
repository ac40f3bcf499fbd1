"""UpdateCustomerGroupsWorkflow: update-customer-groups. Steps: update name / metadata, recording
what was replaced (compensation: put it back). Its module holds this one workflow class: the
sandbox re-imports it for every run."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # by its full name: `from workflows import steps` would load a copy per run (see base)
    import workflows.steps as steps
    from activities import stubs
    from customer_service.schemas import UpdateGroupInput
    from workflows.base import SagaWorkflow, validated
    from workflows.contracts import (
        GroupsResult,
        UpdateCustomerGroupsInput,
    )


@workflow.defn
class UpdateCustomerGroupsWorkflow(SagaWorkflow):
    """update-customer-groups. Steps: update name / metadata, recording what was replaced
    (compensation: compare-and-set it back)."""

    @workflow.run
    async def run(self, input: UpdateCustomerGroupsInput) -> GroupsResult:
        async with self.saga.run():
            changes = validated(UpdateGroupInput, input.update, "update")
            fields = changes.model_dump(exclude_unset=True, mode="json")
            updated = await steps.update(
                self.saga,
                stubs.update_customer_groups,
                stubs.undo_update_customer_groups,
                "group",
                input.selector,
                fields,
                f"Update group(s): {', '.join(fields) or 'no fields'}",
            )
            self.saga.tag(group_ids=[g.id for g in updated if g.id])
            return GroupsResult(groups=updated)
