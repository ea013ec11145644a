"""The one user-facing error type, on the ground floor so every layer can raise it.

A ``CosmosBenchError`` is a problem the user can fix (a bad option, an unusable file); its message is
one line that names the file or option and the problem. The CLI catches it in one place, prints that
line and exits with ``exit_code`` (2: bad input, nothing was done), so no traceback reaches the user
unless ``--debug`` asks for it.
"""

from __future__ import annotations

# Exit codes of every command (README "Exit codes").
EXIT_OK = 0
EXIT_FAILED_WORK = 1  # the work ran but some of it failed (error rows, failed videos, a regression, a wrong demo order)
EXIT_BAD_INPUT = 2  # bad option, file or store: found before any work, nothing done
EXIT_UNDECIDED = 3  # `check`: too little paired data to decide (never a pass)
EXIT_INTERNAL = 4  # an unexpected error (a bug or an environment problem); --debug shows the traceback


class CosmosBenchError(Exception):
    """A problem the user can fix, reported as one line; ``exit_code`` is what the CLI exits with."""

    exit_code = EXIT_BAD_INPUT
