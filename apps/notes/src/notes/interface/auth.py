"""Who a request acts for: the bearer token of ``Authorization``, checked on every route that
needs it (``PrincipalDep``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from notes.entities import Principal
from notes.interface.dependencies import AccountsServiceDep

# Declares the OAuth2 password flow in OpenAPI, so the "Authorize" button of /docs logs in at
# POST /tokens/; it only reads the header (auto_error=False): the 401 is the service's.
bearer_token = OAuth2PasswordBearer(tokenUrl="/tokens/", auto_error=False)


async def current_principal(
    accounts: AccountsServiceDep, token: Annotated[str | None, Depends(bearer_token)]
) -> Principal:
    """The account and token of the request; InvalidTokenError (401) without a valid one."""
    return await accounts.authenticate(token)


PrincipalDep = Annotated[Principal, Depends(current_principal)]
