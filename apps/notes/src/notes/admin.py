"""Operator tasks that have no HTTP route: ``python -m notes.admin COMMAND``.

    python -m notes.admin set-password EMAIL     give the account a new password

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


def main(argv: list[str] | None = None) -> int:
    """Run the command named in ``argv``; 0 when it did what was asked."""
    parser = argparse.ArgumentParser(prog="python -m notes.admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    setting = commands.add_parser("set-password", help="give an account a new password")
    setting.add_argument("email")
    options = parser.parse_args(argv)
    settings = Settings()  # from NOTES_* variables
    configure_logging("WARNING")
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
