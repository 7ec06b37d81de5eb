"""Where a comparison's wall time goes: seconds accumulated per named part. A part timed inside
another (the scratch steps inside Keras's fit) is booked to itself alone, not to both."""
import time
from collections import defaultdict
from contextlib import contextmanager


class Stopwatch:
    def __init__(self):
        self.seconds = defaultdict(float)
        self.booked = 0.0  # sum(self.seconds.values())
        self.started = time.perf_counter()

    @contextmanager
    def part(self, name):
        """Book the block's time to `name`, less what parts nested inside it booked."""
        start, booked_before = time.perf_counter(), self.booked
        try:
            yield
        finally:
            own = time.perf_counter() - start - (self.booked - booked_before)
            self.seconds[name] += own
            self.booked += own

    def summary(self):
        total = time.perf_counter() - self.started
        parts = " + ".join(f"{name} {s:.1f}" for name, s in self.seconds.items())
        return f"Time: {total:.1f} s = {parts} + other {total - sum(self.seconds.values()):.1f}"

    def as_dict(self):
        return {"total": time.perf_counter() - self.started, **self.seconds}
