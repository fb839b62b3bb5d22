"""The notes service: an HTTP API over PostgreSQL, and its background worker."""
