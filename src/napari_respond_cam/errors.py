"""The one exception type for mistakes a user can make and fix."""


class RespondCamError(ValueError):
    """A user-fixable problem: the message says what was wrong and what to do.

    It subclasses ``ValueError`` so that callers who already catch bad-argument
    errors keep working; the napari side shows its message as a notification
    instead of a traceback.
    """
