"""What a client sees of an error, and how the server logs it.

Two kinds of error, told apart by where they come from:
- **the caller's** (a syntax or validation error, a bad variable, a refused limit, a missing
  scope): the client gets the message and an ``extensions.code``; the log gets one INFO line,
  never a traceback;
- **the server's** (an exception nobody raised on purpose: a warehouse failure, a bug): the
  client gets ``internal server error`` with the code ``INTERNAL_SERVER_ERROR`` and a reference;
  the log gets the traceback under the same reference. Exception texts ("invalid literal for
  int()", driver messages) never reach a client.

With introspection off, "Did you mean ...?" suggestions are removed too: they would spell out
the schema that introspection hides.
"""

from __future__ import annotations

import hashlib
import logging
import re

from graphql import GraphQLError, GraphQLSyntaxError

log = logging.getLogger("graphql_api")

INTERNAL = "INTERNAL_SERVER_ERROR"
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
# graphql-core embeds a custom scalar's exception text in the message of a bad variable value.
_EMBEDDED_EXCEPTION = re.compile(r", but encountered error '.*?'; found")


def is_internal(error: GraphQLError) -> bool:
    """True for the server's errors: an unexpected exception, or a failure while resolving a field."""
    if (error.extensions or {}).get("code"):
        return False  # raised on purpose, with a code
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        # Parse and validation errors, variables of the wrong type: no path. With a path, graphql-core
        # itself failed a field (a null in a non-null field): the server's doing.
        return error.path is not None
    # A plain exception: while coercing a variable (no path) it was the caller's input that a
    # scalar refused; while resolving a field, it is ours.
    return error.path is not None


def public_error(error: GraphQLError, *, hide_suggestions: bool) -> GraphQLError:
    """The error as the client receives it (a new object; ``error`` is left for logging)."""
    extensions = dict(error.extensions or {})
    message = error.message
    if is_internal(error):
        message = f"internal server error (reference {reference(error)})"
        extensions = {"code": INTERNAL, "reference": reference(error)}
    elif not extensions.get("code"):
        original = error.original_error
        if original is not None and not isinstance(original, GraphQLError):
            message = _EMBEDDED_EXCEPTION.sub(", found", message.split("\n", 1)[0])
            if message.endswith(str(original)):  # "...; <exception text>": keep what precedes it
                message = message[: -len(str(original))].rstrip("; :") + "."
        extensions["code"] = code_of(error)
    if hide_suggestions:
        message = _SUGGESTION.sub("", message)
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def code_of(error: GraphQLError) -> str:
    """Apollo's codes for the errors graphql-core raises without one."""
    if code := (error.extensions or {}).get("code"):
        return str(code)
    if is_internal(error):
        return INTERNAL
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if error.message.startswith(("Variable '$", "Argument '")) or error.original_error is not None:
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


def reference(error: GraphQLError) -> str:
    """A short id that ties the client's generic message to the logged traceback."""
    seed = f"{id(error.original_error)}:{error.message}:{error.path}"
    return hashlib.blake2s(seed.encode("utf-8", "surrogatepass"), digest_size=5).hexdigest()


def log_errors(errors: list[GraphQLError]) -> None:
    for error in errors:
        if is_internal(error):
            original = error.original_error
            log.error(
                "internal error (reference %s) at %s: %s",
                reference(error),
                error.path,
                error.message,
                exc_info=(type(original), original, original.__traceback__) if original is not None else None,
            )
        else:
            log.info("request refused (%s): %s", code_of(error), error.message.split("\n", 1)[0])
