"""Graceful stop on SIGTERM/SIGINT: the first signal asks the training loop to stop after the
current step (it then saves a checkpoint); a second one restores the previous handlers and re-raises
the signal, which aborts at once."""

from __future__ import annotations

import logging
import signal
import threading
from types import TracebackType
from typing import Any

__all__ = ["GracefulStop"]

logger = logging.getLogger(__name__)


class GracefulStop:
    """Context manager that records the first SIGTERM/SIGINT in :attr:`signal` (main thread only;
    elsewhere it installs nothing and :attr:`signal` stays ``None``)."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old_handlers: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        """A signal arrived."""
        return self.signal is not None

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._restore()

    def _restore(self) -> None:
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers.clear()

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.signal is not None:  # second signal: give up immediately
            self._restore()
            signal.raise_signal(signum)
            return
        self.signal = signum
        logger.warning(
            "received %s: saving a checkpoint after this step, then stopping (send again to abort)",
            signal.Signals(signum).name,
        )
