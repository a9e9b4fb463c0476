"""The error a user can fix, shared by flow validation, the run context and operators."""

from __future__ import annotations


class OperatorError(Exception):
    """A problem a user can fix, with a sentence that says what and how.

    Operators raise it for bad data or bad params found at run time; the runner shows the
    message as it is (no traceback in front of the user).
    """


def node_phrase(op_id: str, node_id: str | None) -> str:
    """How every sentence names a node: ``split (node "holdout")``, or the operator alone."""
    return f'{op_id} (node "{node_id}")' if node_id else op_id
