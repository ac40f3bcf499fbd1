"""The HTTP API: Medusa's customer routes (admin, store, auth) over the customer workflows."""
