"""CreateCustomerGroupsWorkflow: create-customer-groups. Steps: create the groups (compensation:
delete them). Its module holds this one workflow class: the sandbox re-imports it for every run."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import stubs
    from activities.contracts import CreateGroupsStep
    from customer_service import ids
    from workflows.base import SagaWorkflow
    from workflows.contracts import (
        CreateCustomerGroupsInput,
        GroupsResult,
    )
    from workflows.visibility import short


@workflow.defn
class CreateCustomerGroupsWorkflow(SagaWorkflow):
    """create-customer-groups. Steps: create the groups (compensation: delete them)."""

    @workflow.run
    async def run(self, input: CreateCustomerGroupsInput) -> GroupsResult:
        async with self.saga.run():
            groups = [
                g.model_copy(update={"id": g.id or self.saga.new_id(ids.GROUP)})
                for g in input.groups
            ]
            group_ids = [g.id for g in groups if g.id]
            self.saga.tag(group_ids=group_ids)
            created = await self.saga.step(
                stubs.create_customer_groups,
                CreateGroupsStep(groups=groups, **self.saga.new_write()),
                summary=f"Create {len(groups)} group(s): {short([g.name for g in groups])}",
                undo=(
                    stubs.undo_create_customer_groups,
                    f"compensate: delete group(s) {short(group_ids)}",
                ),
                pivot=True,
            )
            return GroupsResult(groups=created)
