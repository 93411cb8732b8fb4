"""The registry client: one module per resource of the OCI Distribution API."""
