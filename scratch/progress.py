"""A one-line progress bar for long epochs, redrawn in place on a terminal."""
import sys


class ProgressBar:
    """Draws `label [=====>    ] k/total` on `stream`, at most `updates` times per pass."""

    def __init__(self, total, label="", stream=None, width=30, updates=50):
        self.total, self.label, self.width = total, label, width
        self.stream = stream or sys.stderr
        self.every = max(1, total // updates)

    def update(self, done):
        if done % self.every and done != self.total:
            return
        filled = self.width * done // self.total
        bar = "=" * filled + (">" if filled < self.width else "") + " " * (self.width - filled - 1)
        self.stream.write(f"\r{self.label} [{bar[:self.width]}] {done}/{self.total}")
        if done == self.total:
            self.stream.write("\r" + " " * (self.width + len(self.label) + 24) + "\r")
        self.stream.flush()
