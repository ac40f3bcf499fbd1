"""Customer group and membership workflows (SPEC §4.9–4.13). No hooks or events, as in Medusa."""

from __future__ import annotations

from temporalio import workflow

from workflows import steps
from workflows.base import SagaWorkflow, validated
from workflows.saga import Saga

with workflow.unsafe.imports_passed_through():
    from activities.models import ChangeMembershipsStep, CreateGroupsStep, SoftDeleteStep, Undo
    from customer_service import ids
    from customer_service.schemas import (
        GroupDTO,
        MembershipChange,
        MembershipInput,
        UpdateGroupInput,
    )
    from workflows.models import (
        CreateCustomerGroupsInput,
        DeleteCustomerGroupsInput,
        GroupsResult,
        IdsResult,
        LinkInput,
        LinkResult,
        UpdateCustomerGroupsInput,
    )


@workflow.defn
class CreateCustomerGroupsWorkflow(SagaWorkflow):
    """create-customer-groups. Steps: create the groups (compensation: delete them)."""

    @workflow.run
    async def run(self, input: CreateCustomerGroupsInput) -> GroupsResult:
        async def body() -> GroupsResult:
            groups = [
                g.model_copy(update={"id": g.id or self.saga.new_id(ids.GROUP)})
                for g in input.groups
            ]
            group_ids = [g.id for g in groups if g.id]
            self.saga.tag(group_ids=group_ids)
            op = self.saga.operation_id()
            created = await self.saga.step(
                "create_customer_groups",
                CreateGroupsStep(groups=groups, operation_id=op, event_group_id=self.saga.event_group_id),
                result_type=list[GroupDTO],
                summary=f"Create {len(groups)} group(s): {', '.join(g.name for g in groups[:3])}",
                compensation=("delete_created_groups", Undo(operation_id=op),
                              f"compensate: delete group(s) {', '.join(group_ids[:3])}"),
            )  # fmt: skip
            return GroupsResult(groups=created)

        return await self.saga.run(body)


@workflow.defn
class UpdateCustomerGroupsWorkflow(SagaWorkflow):
    """update-customer-groups. Steps: update name / metadata, recording what was replaced
    (compensation: compare-and-set it back)."""

    @workflow.run
    async def run(self, input: UpdateCustomerGroupsInput) -> GroupsResult:
        async def body() -> GroupsResult:
            changes = validated(UpdateGroupInput, input.update, "update")
            fields = changes.model_dump(exclude_unset=True, mode="json")
            outcome = await steps.update(
                self.saga, "group", input.selector, fields,
                f"Update group(s): {', '.join(fields) or 'no fields'}",
            )  # fmt: skip
            self.saga.tag(group_ids=outcome.ids)
            return GroupsResult(groups=[GroupDTO.model_validate(r) for r in outcome.rows])

        return await self.saga.run(body)


@workflow.defn
class DeleteCustomerGroupsWorkflow(SagaWorkflow):
    """delete-customer-groups. Steps: soft-delete the groups (compensation: restore them)."""

    @workflow.run
    async def run(self, input: DeleteCustomerGroupsInput) -> IdsResult:
        async def body() -> IdsResult:
            self.saga.tag(group_ids=input.ids)
            op = self.saga.operation_id()
            await self.saga.step(
                "soft_delete_customer_groups",
                SoftDeleteStep(ids=input.ids, operation_id=op, event_group_id=self.saga.event_group_id),
                result_type=dict[str, list[str]],
                summary=f"Delete group(s) {', '.join(input.ids[:3])}",
                compensation=("restore_deleted_groups", Undo(operation_id=op),
                              "compensate: restore group(s)"),
            )  # fmt: skip
            return IdsResult(ids=input.ids)

        return await self.saga.run(body)


async def change_memberships(
    saga: Saga, add: list[tuple[str, str]], remove: list[tuple[str, str]], summary: str
) -> LinkResult:
    """Add and remove (customer, group) pairs; compensation removes only the pairs this run
    added and re-adds only the pairs it removed (decision 2)."""
    op = saga.operation_id()
    change = await saga.step(
        "change_memberships",
        ChangeMembershipsStep(
            add=[MembershipInput(customer_id=c, customer_group_id=g,
                                 id=saga.new_id(ids.MEMBERSHIP)) for c, g in add],
            remove=[MembershipInput(customer_id=c, customer_group_id=g) for c, g in remove],
            operation_id=op,
            event_group_id=saga.event_group_id,
        ),
        result_type=MembershipChange,
        summary=summary,
        compensation=("revert_membership_changes", Undo(operation_id=op),
                      "compensate: revert membership changes"),
    )  # fmt: skip
    return LinkResult(added=change.added, removed=change.removed)


@workflow.defn
class LinkCustomersToCustomerGroupWorkflow(SagaWorkflow):
    """link-customers-to-customer-group: add / remove customers of one group."""

    @workflow.run
    async def run(self, input: LinkInput) -> LinkResult:
        async def body() -> LinkResult:
            self.saga.tag(customer_ids=[*input.add, *input.remove], group_ids=[input.id])
            return await change_memberships(
                self.saga,
                [(c, input.id) for c in input.add],
                [(c, input.id) for c in input.remove],
                f"Group {input.id}: add {len(input.add)}, remove {len(input.remove)} customer(s)",
            )

        return await self.saga.run(body)


@workflow.defn
class LinkCustomerGroupsToCustomerWorkflow(SagaWorkflow):
    """link-customer-groups-to-customer: add / remove groups of one customer."""

    @workflow.run
    async def run(self, input: LinkInput) -> LinkResult:
        async def body() -> LinkResult:
            self.saga.tag(customer_ids=[input.id], group_ids=[*input.add, *input.remove])
            return await change_memberships(
                self.saga,
                [(input.id, g) for g in input.add],
                [(input.id, g) for g in input.remove],
                f"Customer {input.id}: add {len(input.add)}, remove {len(input.remove)} group(s)",
            )

        return await self.saga.run(body)
