"""Errors that describe a user's mistake (bad file, bad option, bad checkpoint).

The CLI prints these as one line and exits non-zero; anything else is a bug and keeps
its traceback.
"""


class RnnkitError(ValueError):
    """Base class: a problem with the user's input, with a message fit to print as is."""


class DataError(RnnkitError):
    """An input file or array is missing, empty, undecodable or malformed."""


class CheckpointError(RnnkitError):
    """A checkpoint is missing, corrupt, truncated or of another kind than expected."""


class ConfigError(RnnkitError):
    """An option or combination of options is invalid."""


class TrainingDiverged(RnnkitError):
    """The loss or the gradient became NaN or infinite; training stopped before the bad step
    touched the weights or any checkpoint."""
