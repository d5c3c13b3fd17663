"""Errors a user can act on.

Two channels (see STYLE.md): these exceptions carry a message meant for a person (or, for
`ToolArgumentError`, for the model that made the call) and stop the step; any other exception is a bug.
Messages name the thing, the rule, the value received and the way out.
"""

from __future__ import annotations

import errno


class MlpilotError(Exception):
    """Base of the errors whose message is shown to the user as is."""


class DataError(MlpilotError):
    """The input data cannot be used as given: the user must fix the file or the options."""


class ConfigError(MlpilotError):
    """An option or setting is invalid or inconsistent."""


class ToolArgumentError(MlpilotError):
    """A tool was called with an argument outside its valid range; the message names the valid options."""


class StorageFull(MlpilotError):
    """The disk (or a quota, or a file-size limit) is full: nothing more can be written."""


# "No room to write": a full disk, a quota, a file-size limit (ulimit -f).
FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def storage_full(exc: BaseException, path: object) -> StorageFull | None:
    """A `StorageFull` for ``exc`` when it says there is no room to write ``path``, else None."""
    if isinstance(exc, OSError) and exc.errno in FULL:
        return StorageFull(f"No room to write {path} ({exc.strerror}). Free some space (or raise the limit), "
                           "then continue with `mlpilot resume RUN`; what was written before is kept.")
    if type(exc).__name__ == "OperationalError" and "full" in str(exc).lower():  # sqlite3: database or disk is full
        return StorageFull(f"No room to write {path} ({exc}). Free some space, then continue with "
                           "`mlpilot resume RUN`; what was written before is kept.")
    return None
