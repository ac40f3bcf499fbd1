"""LinkCustomerGroupsToCustomerWorkflow: link-customer-groups-to-customer: add / remove groups of
one customer. Its module holds this one workflow class: the sandbox re-imports it for every run."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # by its full name: `from workflows import steps` would load a copy per run (see base)
    import workflows.steps as steps
    from workflows.base import SagaWorkflow
    from workflows.contracts import (
        LinkInput,
        LinkResult,
    )


@workflow.defn
class LinkCustomerGroupsToCustomerWorkflow(SagaWorkflow):
    """link-customer-groups-to-customer: add / remove groups of one customer."""

    @workflow.run
    async def run(self, input: LinkInput) -> LinkResult:
        async with self.saga.run():
            self.saga.tag(customer_ids=[input.id], group_ids=[*input.add, *input.remove])
            return await steps.change_memberships(
                self.saga,
                [(input.id, g) for g in input.add],
                [(input.id, g) for g in input.remove],
                f"Customer {input.id}: add {len(input.add)}, remove {len(input.remove)} group(s)",
            )
