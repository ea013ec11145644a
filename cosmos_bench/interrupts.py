"""SIGINT and SIGTERM end a command the way Ctrl-C does: the work unwinds, claims are released.

Python turns SIGINT into ``KeyboardInterrupt``, which every ``finally`` of the run sees (the store's
transaction rolls back, the run's leases on work items are released, the video being written is
finished or its temporary file removed). SIGTERM (``kill``, a batch scheduler, ``docker stop``) would
end the process at once and leave the leases behind, blocking other hosts' runs until they expire; so
while a command runs, SIGTERM raises :class:`Interrupted` in the main thread instead, and takes the
same path. The CLI then prints one line and exits ``128 + signal`` (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Interrupted(KeyboardInterrupt):
    """The command was stopped by a signal; ``rows_kept`` is what the run had stored (None: not a run)."""

    def __init__(self, signum: int = signal.SIGINT, rows_kept: int | None = None):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)
        self.rows_kept = rows_kept

    @classmethod
    def of(cls, exc: BaseException, rows_kept: int) -> Interrupted:
        """``exc`` (a KeyboardInterrupt, or an Interrupted from SIGTERM) with the run's stored row count."""
        return cls(getattr(exc, "signum", signal.SIGINT), rows_kept)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def line(self) -> str:
        kept = "" if self.rows_kept is None else f"; {self.rows_kept} rows kept"
        return f"interrupted ({signal.Signals(self.signum).name}){kept}; the same command resumes"


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While the block runs (in the main thread), SIGTERM raises :class:`Interrupted` like Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    before = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


__all__ = ["Interrupted", "sigterm_interrupts"]
