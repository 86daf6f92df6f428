"""Admin API errors as Amp's handlers produce them: an HTTP status, a stable `error_code` and a message.

Amp builds `error_message` with `error_with_causes`: the error's own text, then its source chain as
`" | Caused by: a -> b"` (the same shape as its Flight errors). Handlers whose display text already
embeds the source repeat it in the chain; that is what Amp sends, so it is what we send.
"""

from __future__ import annotations

from amp_local.errors import caused_by


class ApiError(Exception):
    """One failed Admin API request; `to_json()` is the response body."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def to_json(self) -> dict[str, str]:
        return {"error_code": self.error_code, "error_message": self.message}


def api_error(status: int, error_code: str, error: str, *causes: str) -> ApiError:
    """An `ApiError` whose message is `error` followed by its source chain."""
    return ApiError(status, error_code, caused_by(error, *causes))


class ManifestInvalid(ValueError):
    """A manifest that does not deserialize (Amp: serde error, code `INVALID_MANIFEST`)."""


class ValidationFailure(Exception):
    """A derived-manifest or `/schema` validation failure, before it is mapped to an endpoint.

    `code` is the `/schema` error code and `status` its HTTP status; `display` and `causes` are
    Amp's error text and source chain. Registration wraps every one of these as
    `MANIFEST_VALIDATION_ERROR`.
    """

    def __init__(self, code: str, status: int, display: str, *causes: str) -> None:
        super().__init__(caused_by(display, *causes))
        self.code = code
        self.status = status
        self.display = display
        self.causes = causes
