"""Faults a user can act on, as one hierarchy: the CLI prints any of them as one line and an exit code.

Raise a :class:`LogisticsError` (or a subclass) for a fault outside the code's control: bad
configuration, a broker that does not answer, a folder that cannot be written, a damaged
warehouse file. Its message says what is wrong, naming the key, file or address, and what
to do about it. ``logistics --debug ...`` shows the traceback as well. Anything else that
escapes a command is a bug, and the CLI says so.
"""

from __future__ import annotations


class LogisticsError(Exception):
    """A fault the user can fix; the message is complete on its own (one line per problem)."""

    exit_code = 1


class ConfigError(LogisticsError):
    """Configuration that cannot be used: an unknown key, a bad value, an unknown environment, bad YAML."""

    exit_code = 2


class CredentialsMissing(LogisticsError):
    """A cloud environment without the credentials (or the PII key) it needs; the message says how to set them up."""

    exit_code = 2


class NotWritable(LogisticsError):
    """A folder or file the command must write to cannot be written; checked before any work starts."""


class WarehouseDamaged(LogisticsError):
    """The warehouse file is not a database (truncated, overwritten, garbage); the message says how to recover."""


class SourceUnavailable(LogisticsError):
    """A broker or emulator did not answer (or answered "try later"): worth retrying with backoff."""


class SourceError(LogisticsError):
    """A broker answered with an error retrying will not fix (a missing topic or subscription, no permission)."""


class RetriesExhausted(LogisticsError):
    """A source stayed unavailable past the retry budget: the caller gave up (a drain's ledger so far stands)."""
