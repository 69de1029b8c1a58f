"""A progress bar on a terminal, nothing elsewhere (no dependency for one line of text)."""

from __future__ import annotations

import time
from typing import TextIO


class Progress:
    """``\\r[#####-----] 12/40 label``, redrawn at most ten times a second.

    Silent unless ``stream`` is a terminal, so logs and pipes never get carriage returns.
    """

    width = 30

    def __init__(self, total: int, stream: TextIO, label: str = "") -> None:
        self.total = max(total, 0)
        self.stream = stream
        self.label = label
        self.done = 0
        self.enabled = bool(getattr(stream, "isatty", lambda: False)()) and self.total > 0
        self._drawn_at = 0.0

    def __call__(self, step: int = 1) -> None:
        self.done = min(self.total, self.done + step)
        now = time.monotonic()
        if self.enabled and (now - self._drawn_at >= 0.1 or self.done == self.total):
            self._drawn_at = now
            self._draw()

    def _draw(self) -> None:
        filled = self.width * self.done // self.total
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} {self.label}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()


class Raw:
    """A command's ``self.stdout`` or ``self.stderr`` without the newline added to each write."""

    def __init__(self, wrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")

    def flush(self) -> None:
        self.wrapper.flush()

    def isatty(self) -> bool:
        return self.wrapper.isatty()
