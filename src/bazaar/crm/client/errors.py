"""What the external CRM client raises (the tree is drawn in the package docstring). None of
them carries a secret: messages hold statuses and the server's own words only."""

from __future__ import annotations


class CRMError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class CRMAuthError(CRMError):
    pass


class CRMRateLimited(CRMError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class CRMUnavailable(CRMError):
    pass


class CRMValidationError(CRMError):
    """The CRM refused the request (4xx other than auth and rate limits): retrying the same
    record will not help until it changes."""


class CRMProtocolError(CRMError):
    """The CRM answered something the dialect cannot read."""
