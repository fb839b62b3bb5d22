"""Failures of the service's infrastructure, which every layer may raise or handle.

They are declared here, below every layer, so that the connectors can turn the database
driver's errors into them and the services and the HTTP layer can handle them without
importing a driver. Each means "not now": the same request may succeed later, and the HTTP
layer answers them with ``503`` and ``Retry-After``. A unique violation or a failed check is
none of these: it is a fault of the request or of the code, not of the infrastructure.
"""

from __future__ import annotations


class UnavailableError(Exception):
    """The request cannot be served now; the same request may succeed later."""


class DatabaseUnavailableError(UnavailableError, ConnectionError):
    """The database cannot be reached, lost the connection, or takes no writes."""


class CommitOutcomeUnknownError(DatabaseUnavailableError):
    """The connection was lost while a commit was on its way: it may or may not have happened.

    Never retried blindly: repeating the change could apply it twice.
    """


class DatabaseTimeoutError(UnavailableError, TimeoutError):
    """A statement or a lock wait ran past its limit; the transaction was rolled back."""


class OverloadedError(UnavailableError):
    """A queue of work waiting for the database is full."""


class StoppingError(UnavailableError):
    """The process is shutting down and takes no new work."""
