"""DeleteCustomerGroupsWorkflow: delete-customer-groups. Steps: soft-delete the groups
(compensation: restore them). Its module holds this one workflow class: the sandbox re-imports
it for every run."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import stubs
    from activities.contracts import SoftDeleteStep
    from workflows.base import SagaWorkflow
    from workflows.contracts import (
        DeleteCustomerGroupsInput,
        IdsResult,
    )
    from workflows.visibility import short


@workflow.defn
class DeleteCustomerGroupsWorkflow(SagaWorkflow):
    """delete-customer-groups. Steps: soft-delete the groups (compensation: restore them)."""

    @workflow.run
    async def run(self, input: DeleteCustomerGroupsInput) -> IdsResult:
        async with self.saga.run():
            self.saga.tag(group_ids=input.ids)
            await self.saga.step(
                stubs.soft_delete_customer_groups,
                SoftDeleteStep(ids=input.ids, **self.saga.new_write()),
                summary=f"Delete group(s) {short(input.ids)}",
                undo=(stubs.undo_soft_delete_customer_groups, "compensate: restore group(s)"),
                pivot=True,
            )
            return IdsResult(ids=input.ids)
