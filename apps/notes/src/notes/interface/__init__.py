"""The HTTP interface: the app factory, routers, schemas and error mapping."""
