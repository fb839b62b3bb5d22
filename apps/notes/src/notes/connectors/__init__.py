"""Adapters to the world outside the service: the database, its repositories, migrations."""
