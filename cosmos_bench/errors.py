"""The one user-facing error type, on the ground floor so every layer can raise it.

A ``CosmosBenchError`` is a problem the user can fix (a bad option, an unusable file, an unreachable
server); its message is one line that names the file or setting and the problem. Every domain error of
the package (``SuiteError``, ``ModelConfigError``, ``VideoError``, ``RubricError``, ``StoreError``, ...)
derives from it, keeping the built-in base that callers already catch (``ValueError``, ``RuntimeError``,
``FileNotFoundError``). The CLI catches it in one place (``cli/errors.py``), prints that line and exits with
``exit_code`` (2 unless the class says otherwise), so no traceback reaches the user unless ``--debug``
asks for it; anything else is a bug or the machine (exit 4).
"""

from __future__ import annotations

# Exit codes of every command (README "Exit codes").
EXIT_OK = 0
EXIT_FAILED_WORK = 1  # the work ran but some of it failed (error rows, failed videos, a regression, a wrong demo order)
EXIT_BAD_INPUT = 2  # bad option, file or store: found before any work, nothing done
EXIT_UNDECIDED = 3  # `check`: too little paired data to decide (never a pass)
EXIT_INTERNAL = 4  # an unexpected error (a bug or an environment problem); --debug shows the traceback
EXIT_INCOMPLETE = 5  # `run`/`rescore`: work left to another run on the store was not in the store when this run ended


class CosmosBenchError(Exception):
    """A problem the user can fix, reported as one line; ``exit_code`` is what the CLI exits with.

    ``option`` names the parameter at fault as the library spells it (``margin``, ``models_file``):
    the library's message reads ``margin: ...``, and the CLI, which alone knows its flags, shows the
    same line as ``--margin: ...``. So no library message has to name a command-line flag.
    """

    exit_code = EXIT_BAD_INPUT
    option: str | None = None

    def __init__(self, *args: object, option: str | None = None):
        super().__init__(*args)
        if option is not None:
            self.option = option

    @property
    def message(self) -> str:
        """The message without the parameter's name."""
        return Exception.__str__(self)

    def __str__(self) -> str:
        return f"{self.option}: {self.message}" if self.option else self.message


class InputError(CosmosBenchError, ValueError):
    """A value the library was given cannot be used (a malformed spec, a number out of range)."""


class MissingInputError(CosmosBenchError, FileNotFoundError):
    """A file or folder the library was pointed at does not exist (or holds nothing to work on)."""


class WorkFailedError(CosmosBenchError):
    """The work was started but could not be done (no worker could start, the judge is unreachable):
    exit 1 like other failed work, not 2, since the input itself was fine."""

    exit_code = EXIT_FAILED_WORK


class MachineError(CosmosBenchError):
    """The machine refused (a full disk, a file that cannot be written): exit 4 like any environment
    problem, but as one line that names the file, since the user can fix it and needs no traceback."""

    exit_code = EXIT_INTERNAL
