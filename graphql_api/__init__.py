"""The shipment graph over GraphQL (Strawberry on FastAPI), plus the REST endpoints and /health."""
