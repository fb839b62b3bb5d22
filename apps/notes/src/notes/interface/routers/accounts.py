"""``/users/`` and ``/tokens/``: signing up, logging in, and the caller's tokens."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from notes.interface.auth import PrincipalDep
from notes.interface.dependencies import AccountsServiceDep
from notes.interface.limits import require_json
from notes.interface.schemas import (
    AccountCreate,
    AccountRead,
    Problem,
    TokenCreated,
    TokenRead,
    TokenRequest,
    problem_responses,
)

router = APIRouter(tags=["accounts"])

_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"
# The OAuth2 password form: what the "Authorize" button of /docs sends.
_FORM_SCHEMA = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["password"]},
        "username": {"type": "string", "description": "The account's email"},
        "password": {"type": "string"},
    },
}
_UNAUTHORIZED = problem_responses(401)


@router.post(
    "/users/",
    status_code=status.HTTP_201_CREATED,
    summary="Create an account",
    responses=problem_responses(400, 409, 413, 415, 422),
    dependencies=[Depends(require_json)],
)
async def create_account(
    body: AccountCreate, accounts: AccountsServiceDep, response: Response
) -> AccountRead:
    """A new account; log in with ``POST /tokens/`` to use it.

    The email must be unique whatever its case (409 otherwise); the password must have 12 to
    128 characters and not be one of the most common ones (422 otherwise).
    """
    account = await accounts.create_account(email=str(body.email), password=body.password)
    response.headers["Location"] = "/users/me"
    return AccountRead.from_entity(account)


@router.get("/users/me", summary="The caller's account", responses=_UNAUTHORIZED)
async def read_account(principal: PrincipalDep, accounts: AccountsServiceDep) -> AccountRead:
    """The account the bearer token belongs to."""
    return AccountRead.from_entity(await accounts.get_account(principal))


@router.post(
    "/tokens/",
    status_code=status.HTTP_201_CREATED,
    summary="Log in: exchange an email and a password for a bearer token",
    responses={
        **problem_responses(400, 401, 413, 415, 422, 429),
        429: {
            "model": Problem,
            "content": {"application/problem+json": {}},
            "headers": {"Retry-After": {"description": "Seconds until a login may succeed"}},
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                _JSON: {"schema": TokenRequest.model_json_schema()},
                _FORM: {"schema": _FORM_SCHEMA},
            },
        }
    },
)
async def create_token(request: Request, accounts: AccountsServiceDep) -> TokenCreated:
    """A new bearer token, shown in this answer only; send it as ``Authorization: Bearer ...``.

    Takes JSON (``email``, ``password``) or the OAuth2 password form (``username``,
    ``password``). A wrong password and an unknown email get the same 401. After 5 failed
    logins for one email within 15 minutes, further ones get 429 with ``Retry-After`` until the
    oldest of them is 15 minutes old.
    """
    credentials = _credentials(request.headers.get("content-type", ""), await request.body())
    issued = await accounts.issue_token(email=credentials.email, password=credentials.password)
    return TokenCreated(
        access_token=issued.value, id=issued.info.id, expires_at=issued.info.expires_at
    )


@router.get("/tokens/", summary="The caller's tokens", responses=_UNAUTHORIZED)
async def list_tokens(principal: PrincipalDep, accounts: AccountsServiceDep) -> list[TokenRead]:
    """The caller's unexpired tokens, newest first; never their values."""
    tokens = await accounts.list_tokens(principal)
    return [TokenRead.from_entity(t, current=t.id == principal.token_id) for t in tokens]


@router.delete(
    "/tokens/current",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out: revoke the token of this request",
    responses=_UNAUTHORIZED,
)
async def revoke_current_token(principal: PrincipalDep, accounts: AccountsServiceDep) -> None:
    """Revoke the token this request presented."""
    await accounts.revoke_token(principal, principal.token_id)


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke one of the caller's tokens",
    responses=problem_responses(401, 404, 422),
)
async def revoke_token(
    token_id: uuid.UUID, principal: PrincipalDep, accounts: AccountsServiceDep
) -> None:
    """Revoke a token of the caller's; another's token is a 404, as one that does not exist."""
    await accounts.revoke_token(principal, token_id)


def _credentials(content_type: str, body: bytes) -> TokenRequest:
    """The email and password of a login body, JSON or form; 415 or 422 when they are not."""
    media_type = content_type.partition(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HTTPException(400, detail="The request body is not UTF-8.") from error
    fields: Any
    if media_type == _FORM:
        try:
            form = dict(parse_qsl(text, keep_blank_values=True, max_num_fields=10))
        except ValueError as error:
            raise HTTPException(400, detail="The form has too many fields.") from error
        fields = {"email": form.get("username"), "password": form.get("password")}
    elif media_type == _JSON:
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as error:
            detail = [{"type": "json_invalid", "loc": ("body", error.pos), "msg": error.msg}]
            raise RequestValidationError(detail) from error
        except RecursionError as error:
            raise HTTPException(400, detail="The JSON body is nested too deeply.") from error
    else:
        raise HTTPException(415, detail=f"Send {_JSON} or {_FORM}.")
    try:
        return TokenRequest.model_validate(fields)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        ) from error
