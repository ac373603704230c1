"""HTTP API: one blueprint per resource, schemas beside them."""
