from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    # Loan officers, field agents and relationship managers: the staff who act for customers.
    OFFICER = "officer"
    # Borrowers and buyers: they only ever see their own records.
    CUSTOMER = "customer"
    # The machine account a field node uses to sync with its hub.
    NODE = "node"


class Scope(StrEnum):
    """What an API key may do on top of its owner's role."""

    # Safe methods only (GET, HEAD, OPTIONS).
    READ = "read"
    WRITE = "write"
    # The sync protocol only (/api/v1/sync/...), reading and writing: a field node's key.
    SYNC = "sync"


SYNC_PATH_PREFIX = "/api/v1/sync/"
