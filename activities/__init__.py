"""Temporal activities: thin adapters over the Customer Module.

`activities.contracts` (inputs/outputs), `activities.stubs` (typed references) and
`activities.failures` are pure and safe to import from workflows; `activities.customer_activities`
holds the adapters and imports the service.
"""
