"""HTTP schemas: the API's own classes, converted explicitly from entities."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    WithJsonSchema,
    model_validator,
)

from notes.entities import (
    TAGS_PER_NOTE_MAX,
    Account,
    Count,
    NoteFilter,
    NoteView,
    TokenInfo,
    has_too_many_tags,
)
from notes.entities.accounts import EMAIL_MAX
from notes.entities.note import CATEGORY_MAX, CONTENTS_MAX
from notes.entities.tags import TAG_MAX
from notes.services.cursors import MAX_COUNT_CURSOR_LENGTH, MAX_CURSOR_LENGTH
from notes.services.health import Readiness as ServiceReadiness


def _no_nul(value: str) -> str:
    """Refuse NUL characters: PostgreSQL text cannot hold them."""
    if "\x00" in value:
        msg = "must not contain NUL (U+0000) characters"
        raise ValueError(msg)
    return value


def _few_enough_tags(value: str) -> str:
    """Refuse contents with more distinct hashtags than a note may carry."""
    if has_too_many_tags(value):
        msg = f"must not carry more than {TAGS_PER_NOTE_MAX} distinct hashtags"
        raise ValueError(msg)
    return value


# An ISO 8601 date and time with its offset: "2026-01-01T00:00:00Z", "...+02:00".
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:?\d{2})"
)


def _iso_with_offset(value: object) -> object:
    """Refuse what pydantic would read as a timestamp but the API does not promise: numbers
    (Unix times such as ``1700000000`` or ``0.5``) and dates without an offset."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        msg = "must be an ISO 8601 date and time with an offset, such as 2026-01-01T00:00:00Z"
        raise ValueError(msg)
    return value


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_with_offset),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": _TIMESTAMP.pattern}),
]

Text = Annotated[str, AfterValidator(_no_nul)]
Contents = Annotated[
    Text, Field(min_length=1, max_length=CONTENTS_MAX), AfterValidator(_few_enough_tags)
]
Category = Annotated[Text, Field(max_length=CATEGORY_MAX)]
TagName = Annotated[Text, Field(min_length=1, max_length=TAG_MAX + 1)]  # may start with '#'


class NoteCreate(BaseModel):
    """The body of ``POST /notes/``."""

    model_config = ConfigDict(extra="forbid")

    contents: Contents
    category: Category = ""


class NoteImportLine(NoteCreate):
    """A line of ``POST /notes/import``: a note as ``POST /notes/`` takes it, checked the same
    way; other fields (those an export adds: ``id``, dates, ``version``) are ignored."""

    model_config = ConfigDict(extra="ignore")


class ImportLineError(BaseModel):
    """A line of an import that was not stored: its number (the first line is 1) and why."""

    line: int
    error: str


class ImportResult(BaseModel):
    """What ``POST /notes/import`` did."""

    created: Annotated[int, Field(description="Notes stored")]
    invalid: Annotated[int, Field(description="Lines refused")]
    lines: Annotated[int, Field(description="Lines read, blank ones included")]
    errors: Annotated[
        list[ImportLineError], Field(description="The refused lines, the first 1,000 of them")
    ]
    errors_truncated: Annotated[bool, Field(description="More lines were refused than listed")]


class NoteUpdate(BaseModel):
    """The body of ``PATCH /notes/{id}/``: the fields to change, at least one."""

    model_config = ConfigDict(extra="forbid")

    contents: Contents | None = None
    category: Category | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> NoteUpdate:
        if not self.model_fields_set:
            msg = "give at least one of contents, category"
            raise ValueError(msg)
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                msg = f"{name} cannot be null"
                raise ValueError(msg)
        return self


CreatedAfter = Annotated[Timestamp | None, Field(description="Inclusive; ISO 8601 with an offset")]
CreatedBefore = Annotated[Timestamp | None, Field(description="Exclusive; ISO 8601 with an offset")]
SearchWords = Annotated[
    Text | None,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"\S",
        description="Words that must all occur in contents (English stemming)",
    ),
]
TagFilter = Annotated[
    TagName | None,
    Field(description="Only notes with this hashtag (with or without `#`, any case)"),
]


class NoteListQuery(BaseModel):
    """The query parameters of ``GET /notes/``."""

    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[
        str | None,
        Field(min_length=1, max_length=MAX_CURSOR_LENGTH, description="From a next link"),
    ] = None
    offset: Annotated[
        int | None, Field(ge=0, le=10_000_000, description="Notes to skip; not with cursor")
    ] = None
    category: Category | None = None
    created_after: CreatedAfter = None
    created_before: CreatedBefore = None
    q: SearchWords = None
    tag: TagFilter = None

    def next_page(self, cursor: str) -> dict[str, str]:
        """The query of the page after this one: the same filters and limit, and ``cursor``."""
        params = self.model_dump(mode="json", exclude_none=True, exclude={"offset", "cursor"})
        return {**{k: str(v) for k, v in params.items()}, "cursor": cursor}


class NoteExportQuery(BaseModel):
    """The query parameters of ``GET /notes/export``: the list's filters."""

    category: Category | None = None
    created_after: CreatedAfter = None
    created_before: CreatedBefore = None
    q: SearchWords = None
    tag: TagFilter = None


def note_filter(query: NoteListQuery | NoteExportQuery) -> NoteFilter:
    """The notes a list or an export query asks for."""
    return NoteFilter(
        category=query.category,
        created_after=query.created_after,
        created_before=query.created_before,
        text=query.q,
        tag=query.tag,
    )


class CountListQuery(BaseModel):
    """The query parameters of ``GET /tags/`` and ``GET /categories/``."""

    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    cursor: Annotated[
        str | None,
        Field(min_length=1, max_length=MAX_COUNT_CURSOR_LENGTH, description="From a next link"),
    ] = None


class NoteRead(BaseModel):
    """A note as the API shows it."""

    id: uuid.UUID
    contents: str
    category: str
    creation_date: AwareDatetime
    updated_at: AwareDatetime
    version: int

    @classmethod
    def from_entity(cls, note: NoteView) -> NoteRead:
        """The API view of ``note``."""
        return cls(
            id=note.id,
            contents=note.contents,
            category=note.category,
            creation_date=note.creation_date,
            updated_at=note.updated_at,
            version=note.version,
        )


class NamedCount(BaseModel):
    """A tag or category and how many live notes have it."""

    name: str
    count: int

    @classmethod
    def from_entity(cls, row: Count) -> NamedCount:
        """The API view of a tag's or a category's count."""
        return cls(name=row.name, count=row.count)


class AccountCreate(BaseModel):
    """The body of ``POST /users/``."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[EmailStr, Field(max_length=EMAIL_MAX)]
    password: Annotated[Text, Field(description="12 to 128 characters, not a common one")]


class AccountRead(BaseModel):
    """An account as the API shows it: never its password."""

    id: uuid.UUID
    email: str
    created_at: AwareDatetime

    @classmethod
    def from_entity(cls, account: Account) -> AccountRead:
        """The API view of ``account``."""
        return cls(id=account.id, email=account.email, created_at=account.created_at)


class TokenRequest(BaseModel):
    """The JSON body of ``POST /tokens/``; the OAuth2 password form says the same with
    ``username`` for ``email``."""

    model_config = ConfigDict(extra="forbid")

    # Any string: an email the service never accepted is just wrong, like a wrong password.
    email: Annotated[Text, Field(min_length=1, max_length=EMAIL_MAX)]
    password: Annotated[Text, Field(min_length=1, max_length=1024)]


class TokenCreated(BaseModel):
    """A new token: ``access_token`` is shown in this answer only."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    id: uuid.UUID
    expires_at: AwareDatetime


class TokenRead(BaseModel):
    """A token as listed: never its value."""

    id: uuid.UUID
    created_at: AwareDatetime
    expires_at: AwareDatetime
    last_used_at: AwareDatetime | None
    current: bool = Field(description="Whether this request presented this token")

    @classmethod
    def from_entity(cls, token: TokenInfo, *, current: bool) -> TokenRead:
        """The API view of ``token``."""
        return cls(
            id=token.id,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            current=current,
        )


class Status(BaseModel):
    """The body of ``GET /``."""

    app: str
    status: str


class Readiness(BaseModel):
    """The body of ``GET /health/ready``."""

    status: str
    database: str
    schema_revision: str | None
    expected_revision: str

    @classmethod
    def from_service(cls, readiness: ServiceReadiness) -> Readiness:
        """The API view of the readiness use case's answer."""
        return cls(
            status=readiness.status,
            database=readiness.database,
            schema_revision=readiness.schema_revision,
            expected_revision=readiness.expected_revision,
        )


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class InvalidParam(BaseModel):
    """One field that failed validation."""

    name: str
    reason: str
    location: list[str | int]


class ValidationProblem(Problem):
    """A problem whose cause is invalid input; ``errors`` lists each invalid field."""

    errors: list[InvalidParam]


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route may give."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model = ValidationProblem if status == 422 else Problem
        out[status] = {"model": model, "content": {"application/problem+json": {}}}
    return out
