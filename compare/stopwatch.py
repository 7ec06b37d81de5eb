"""Where a comparison's wall time goes: seconds accumulated per named part."""
import time
from collections import defaultdict
from contextlib import contextmanager


class Stopwatch:
    def __init__(self):
        self.seconds = defaultdict(float)
        self.started = time.perf_counter()

    @contextmanager
    def part(self, name):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def summary(self):
        total = time.perf_counter() - self.started
        parts = " + ".join(f"{name} {s:.1f}" for name, s in self.seconds.items())
        return f"Time: {total:.1f} s = {parts} + other {total - sum(self.seconds.values()):.1f}"

    def as_dict(self):
        return {"total": time.perf_counter() - self.started, **self.seconds}
