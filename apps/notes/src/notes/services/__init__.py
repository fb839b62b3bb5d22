"""Business logic. Services receive their ports; they know nothing of HTTP."""
