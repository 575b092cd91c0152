"""Errors raised by moprune.

Every error a user can cause by their input is a :class:`MopruneError`; the CLI turns
one into a single line on stderr and exit code 2.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataNotFoundError",
    "DivergedError",
    "MopruneError",
    "UnknownNameError",
]


class MopruneError(Exception):
    """Base class of the errors that moprune raises for bad input or missing resources."""


class ConfigError(MopruneError, ValueError):
    """A setting has a value that moprune cannot use (the message names the value)."""


class UnknownNameError(ConfigError):
    """A name was looked up in a registry that does not hold it."""


class DataNotFoundError(MopruneError, FileNotFoundError):
    """A dataset's files are not where moprune looked; the message says how to get them."""


class DivergedError(MopruneError):
    """Training produced a NaN or infinite loss."""
