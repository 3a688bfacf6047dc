"""The errors a use case, a dialog or a staff handler may have to answer, whichever layer raises them.

Storage raises them (it knows a row exists, a file is gone, no connection is free); the layers above
name them from here, so that nothing above the services needs to import storage to catch one.
"""

from __future__ import annotations

__all__ = ["BindingExists", "DatabaseBusy", "DuplicatePerson", "MediaNotFound", "RegisterRejected"]


class DuplicatePerson(Exception):
    """A person with this document type and number exists already (该证件已实名采集)."""

    def __init__(self, person_id: int | None) -> None:
        super().__init__("document already collected")
        self.person_id = person_id


class BindingExists(Exception):
    """The person is bound to the enterprise in that role already."""


class DatabaseBusy(RuntimeError):
    """The database could not take the work in time (no free connection); the user gets "busy"."""


class MediaNotFound(LookupError):
    """A stored photo or video is gone (erased, expired by retention, or never written)."""


class RegisterRejected(ValueError):
    """A register batch that cannot be loaded; ``row`` is the 0-based index of the first bad row."""

    def __init__(self, row: int, codes: list[str]) -> None:
        super().__init__(f"register row {row}: {', '.join(codes)}")
        self.row = row
        self.codes = codes
