"""A client for a company's external CRM REST API: its contract as a `Dialect`, three auth
types, a client-side rate limit, retries, typed records and clear exceptions.

    CRMError
     +-- CRMAuthError          credentials refused, or a token that cannot be renewed
     +-- CRMRateLimited        429 after the retries ran out (`retry_after`)
     +-- CRMUnavailable        5xx, timeouts, dropped connections after the retries ran out
     +-- CRMValidationError    the CRM rejected a record (4xx), with its message
     +-- CRMProtocolError      an answer that does not follow the contract (not JSON, no id)
"""

from bazaar.crm.client.dialect import DEFAULT_DIALECT, Dialect
from bazaar.crm.client.errors import (
    CRMAuthError,
    CRMError,
    CRMProtocolError,
    CRMRateLimited,
    CRMUnavailable,
    CRMValidationError,
)
from bazaar.crm.client.http import CRMClient, CRMSettings

__all__ = [
    "DEFAULT_DIALECT",
    "CRMAuthError",
    "CRMClient",
    "CRMError",
    "CRMProtocolError",
    "CRMRateLimited",
    "CRMSettings",
    "CRMUnavailable",
    "CRMValidationError",
    "Dialect",
]
