"""The one error type users see: a clear sentence, exit code 2, no traceback."""


class GankitError(Exception):
    """Bad input or a state the user can fix; the message names the thing and the fix."""

    exit_code = 2
    #: the word after "gankit:" when the command line prints it
    label = "error"
