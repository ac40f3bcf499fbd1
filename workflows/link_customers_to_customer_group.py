"""LinkCustomersToCustomerGroupWorkflow: link-customers-to-customer-group: add / remove customers
of one group. Its module holds this one workflow class: the sandbox re-imports it for every run."""

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
class LinkCustomersToCustomerGroupWorkflow(SagaWorkflow):
    """link-customers-to-customer-group: add / remove customers of one group."""

    @workflow.run
    async def run(self, input: LinkInput) -> LinkResult:
        async with self.saga.run():
            self.saga.tag(customer_ids=[*input.add, *input.remove], group_ids=[input.id])
            return await steps.change_memberships(
                self.saga,
                [(c, input.id) for c in input.add],
                [(c, input.id) for c in input.remove],
                f"Group {input.id}: add {len(input.add)}, remove {len(input.remove)} customer(s)",
            )
