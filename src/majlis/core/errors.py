"""Domain errors and their RFC 9457 problem+json form.

Services raise these; the API turns them into `application/problem+json`
answers and the CLI into one readable line and a non-zero exit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

PROBLEM_CONTENT_TYPE = "application/problem+json"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://majlis.dev/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class NotAuthenticated(DomainError):
    status, title, slug = 401, "Not authenticated", "not-authenticated"


class PermissionDenied(DomainError):
    status, title, slug = 403, "Permission denied", "permission-denied"


class NotFound(DomainError):
    status, title, slug = 404, "Not found", "not-found"

    def __init__(self, entity: str, entity_id: UUID | str) -> None:
        super().__init__(f"{entity} {entity_id} does not exist", entity=entity)


class MovedPermanently(NotFound):
    """The entity was merged into another: 301 to the same path under the new id.

    Where the old id is not in the request path (an id inside a body), the answer is the
    404 of a NotFound, naming the new id.
    """

    status, title, slug = 301, "Moved permanently", "moved"

    def __init__(self, entity: str, old_id: UUID, new_id: UUID) -> None:
        DomainError.__init__(
            self, f"{entity} {old_id} was merged into {new_id}", entity=entity, new_id=str(new_id)
        )
        self.old_id, self.new_id = old_id, new_id

    def moved_path(self, path: str) -> str | None:
        """`path` under the survivor's id; None when the old id is not in it."""
        old = str(self.old_id)
        return path.replace(old, str(self.new_id)) if old in path else None


class Conflict(DomainError):
    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(DomainError):
    status, title, slug = 412, "Precondition failed", "stale-version"


class ValidationFailed(DomainError):
    """One or more fields are invalid; nothing was written."""

    status, title, slug = 422, "Invalid input", "validation"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__(
            "invalid value for: " + ", ".join(error.field for error in errors),
            errors=[{"field": e.field, "message": e.message} for e in errors],
        )

    def __str__(self) -> str:
        return "; ".join(f"{e.field}: {e.message}" for e in self.errors)

    @classmethod
    def single(cls, field_name: str, message: str) -> ValidationFailed:
        return cls([FieldError(field_name, message)])


class ServiceUnavailable(DomainError):
    """The database cannot serve the request right now; nothing was written, retry later."""

    status, title, slug = 503, "Service unavailable", "unavailable"
