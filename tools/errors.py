"""Errors a user can act on.

Two channels (see STYLE.md): these exceptions carry a message meant for a person (or, for
`ToolArgumentError`, for the model that made the call) and stop the step; any other exception is a bug.
Messages name the thing, the rule, the value received and the way out.
"""

from __future__ import annotations


class MlpilotError(Exception):
    """Base of the errors whose message is shown to the user as is."""


class DataError(MlpilotError):
    """The input data cannot be used as given: the user must fix the file or the options."""


class ConfigError(MlpilotError):
    """An option or setting is invalid or inconsistent."""


class ToolArgumentError(MlpilotError):
    """A tool was called with an argument outside its valid range; the message names the valid options."""
