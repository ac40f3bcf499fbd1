"""Temporal activities: thin adapters over the Customer Module.

`activities.models` (inputs/outputs) and `activities.names` are pure and safe to import from
workflows; `activities.customer_activities` holds the adapters and imports the service.
"""
