"""Bazaar: the backend of an MSME marketplace platform."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bazaar")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
