"""Customer group and membership workflows (SPEC §4.9–4.13). No hooks or events, as in Medusa."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # by its full name: `from workflows import steps` would load a copy per run (see base)
    import workflows.steps as steps
    from activities import stubs
    from activities.contracts import ChangeMembershipsStep, CreateGroupsStep, SoftDeleteStep
    from customer_service import ids
    from customer_service.schemas import MembershipInput, UpdateGroupInput
    from workflows.base import SagaWorkflow, validated
    from workflows.contracts import (
        CreateCustomerGroupsInput,
        DeleteCustomerGroupsInput,
        GroupsResult,
        IdsResult,
        LinkInput,
        LinkResult,
        UpdateCustomerGroupsInput,
    )
    from workflows.saga import Saga
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


async def change_memberships(
    saga: Saga, add: list[tuple[str, str]], remove: list[tuple[str, str]], summary: str
) -> LinkResult:
    """Add and remove (customer, group) pairs; compensation removes only the pairs this run
    added and re-adds only the pairs it removed (decision 2)."""
    change = await saga.step(
        stubs.change_memberships,
        ChangeMembershipsStep(
            add=[
                MembershipInput(customer_id=c, customer_group_id=g, id=saga.new_id(ids.MEMBERSHIP))
                for c, g in add
            ],
            remove=[MembershipInput(customer_id=c, customer_group_id=g) for c, g in remove],
            **saga.new_write(),
        ),
        summary=summary,
        undo=(stubs.undo_change_memberships, "compensate: revert membership changes"),
        pivot=True,
    )
    return LinkResult(added=change.added, removed=change.removed)


@workflow.defn
class LinkCustomersToCustomerGroupWorkflow(SagaWorkflow):
    """link-customers-to-customer-group: add / remove customers of one group."""

    @workflow.run
    async def run(self, input: LinkInput) -> LinkResult:
        async with self.saga.run():
            self.saga.tag(customer_ids=[*input.add, *input.remove], group_ids=[input.id])
            return await change_memberships(
                self.saga,
                [(c, input.id) for c in input.add],
                [(c, input.id) for c in input.remove],
                f"Group {input.id}: add {len(input.add)}, remove {len(input.remove)} customer(s)",
            )


@workflow.defn
class LinkCustomerGroupsToCustomerWorkflow(SagaWorkflow):
    """link-customer-groups-to-customer: add / remove groups of one customer."""

    @workflow.run
    async def run(self, input: LinkInput) -> LinkResult:
        async with self.saga.run():
            self.saga.tag(customer_ids=[input.id], group_ids=[*input.add, *input.remove])
            return await change_memberships(
                self.saga,
                [(input.id, g) for g in input.add],
                [(input.id, g) for g in input.remove],
                f"Customer {input.id}: add {len(input.add)}, remove {len(input.remove)} group(s)",
            )
