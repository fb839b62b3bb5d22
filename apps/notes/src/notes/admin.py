"""Operator tasks that have no HTTP route: ``python -m notes.admin COMMAND``.

    python -m notes.admin set-password EMAIL     give the account a new password
    python -m notes.admin parked-events [--listener NAME] [--limit N]
                                                  list the events listeners gave up on
    python -m notes.admin requeue-events (ID ... | --all) [--listener NAME]
                                                  make parked events pending again

The password is read from the terminal (asked twice), or from the first line of standard input
when that is not a terminal, so that it never shows up in a command line or a shell history.
Settings come from ``NOTES_*`` variables, as for the service.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from notes.bootstrap import bootstrap
from notes.core.config import Settings
from notes.core.logging import configure_logging
from notes.services.errors import InvalidCredentialsError, WeakPasswordError


def read_password() -> str:
    """The new password: asked twice on a terminal, else the first line of standard input."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        msg = "the two passwords differ"
        raise SystemExit(msg)
    return first


async def set_password(settings: Settings, email: str, password: str) -> None:
    """Give the account with ``email`` the password ``password``."""
    container = await bootstrap(settings)
    try:
        await container.accounts.set_password(email=email, password=password)
    finally:
        await container.close()


async def parked_events(settings: Settings, *, listener: str | None, limit: int) -> list[str]:
    """One line per parked (event, listener): when, which, how often tried, the last error."""
    container = await bootstrap(settings)
    try:
        parked = await container.dead_letters.list(limit=limit, listener=listener)
    finally:
        await container.close()
    return [
        f"{p.event_id}\t{p.listener}\t{p.type}\t{p.note_id}\t{p.attempts}\t"
        f"{p.parked_at.isoformat()}\t{p.last_error.splitlines()[0] if p.last_error else ''}"
        for p in parked
    ]


async def requeue_events(
    settings: Settings, event_ids: list[int] | None, *, listener: str | None
) -> int:
    """Make parked events pending again; how many."""
    container = await bootstrap(settings)
    try:
        return await container.dead_letters.requeue(event_ids, listener=listener)
    finally:
        await container.close()


def main(argv: list[str] | None = None) -> int:
    """Run the command named in ``argv``; 0 when it did what was asked."""
    parser = argparse.ArgumentParser(
        prog="python -m notes.admin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    setting = commands.add_parser("set-password", help="give an account a new password")
    setting.add_argument("email")
    listing = commands.add_parser("parked-events", help="list parked events, oldest first")
    listing.add_argument("--listener", help="only those parked for this listener")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    requeuing = commands.add_parser("requeue-events", help="make parked events pending again")
    requeuing.add_argument("event_ids", nargs="*", type=int, metavar="ID")
    requeuing.add_argument("--all", action="store_true", help="every parked event")
    requeuing.add_argument("--listener", help="only those parked for this listener")
    options = parser.parse_args(argv)
    settings = Settings()  # from NOTES_* variables
    configure_logging("WARNING")
    if options.command == "parked-events":
        lines = asyncio.run(parked_events(settings, listener=options.listener, limit=options.limit))
        print("event\tlistener\ttype\tnote\tattempts\tparked at\tlast error")  # noqa: T201
        for line in lines:
            print(line)  # noqa: T201
        return 0
    if options.command == "requeue-events":
        if bool(options.event_ids) == options.all:
            parser.error("give event ids, or --all")
        ids = None if options.all else options.event_ids
        count = asyncio.run(requeue_events(settings, ids, listener=options.listener))
        print(f"{count} event(s) requeued")  # noqa: T201
        return 0
    try:
        asyncio.run(set_password(settings, options.email, read_password()))
    except InvalidCredentialsError:
        print(f"no account has the email {options.email!r}", file=sys.stderr)  # noqa: T201
        return 1
    except WeakPasswordError as error:
        print(f"password refused: {error.reason}", file=sys.stderr)  # noqa: T201
        return 1
    print(f"password set for {options.email}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
