"""What went wrong, in the domain's words: the store and the services raise these, none knows HTTP.

`moderation/errors.py` turns each kind into an HTTP status and the JSON error shape, once, for
every view; the moderators' pages turn them into notices. Nothing here imports anything of ours or
beyond the standard library, so every layer may raise them.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request that was understood but cannot be carried out; `message` says why, to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """What the request names does not exist (or is not there for this caller)."""


class InvalidRequest(DomainError):
    """A value the caller sent cannot be used; `field` names the request field at fault, if one is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidReview(InvalidRequest):
    """A moderator's decision, report or action on an author that is not well formed."""


class Conflict(DomainError):
    """The thing is not in the state the request needs: someone changed it, or it was done already."""


class AlreadyReviewed(Conflict):
    """A first decision on a comment a person has decided already (another moderator was first)."""

    def __init__(self) -> None:
        super().__init__(
            "This comment has already been reviewed. To change the decision, send the status "
            "you saw as expected_status."
        )


class StatusChanged(Conflict):
    """A changed decision on a comment that no longer has the status the moderator saw."""

    def __init__(self, expected: str) -> None:
        super().__init__(
            f"This comment is no longer {expected}: someone changed it; reload and decide again."
        )
        self.expected = expected


class UndoExpired(Conflict):
    """An undo of a review that is not this moderator's latest one of the undo window."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"Only your own review of the last {seconds} seconds can be undone.")
        self.seconds = seconds


class AlreadyActive(Conflict):
    """An action on an author of a kind that is already in force."""

    def __init__(self, action: str) -> None:
        super().__init__(f"This author already has a {action} in force; lift it first.")
        self.action = action


class AlreadyJudged(Conflict):
    """A confirm or discard of a label that is not an unverified client report."""

    def __init__(self, label_id: int, trust: str) -> None:
        super().__init__(f"Label {label_id} is {trust}, not unverified: only a report is judged.")
        self.trust = trust


class AlreadyDelivered(Conflict):
    """A retry of an outbox event that was delivered already."""

    def __init__(self) -> None:
        super().__init__("This event has already been delivered.")


class DuplicateEntry(Conflict):
    """A block-list entry that is already on that list."""
