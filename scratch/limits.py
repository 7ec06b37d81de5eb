"""Sizes no run here could mean, refused up front with a clear message instead of failing later
with a MemoryError (or quietly taking the machine's memory): checked before anything is allocated."""
import os

MAX_CLASSES = 10_000  # a label above this is a data error, not a classifier we could train here


def memory_budget():
    """Bytes one run may plan to use: half of this machine's physical memory."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (OSError, ValueError):
        return 8 * 2**30


def gib(n_bytes):
    return f"{n_bytes / 2**30:,.1f} GiB"


def check_fits(n_bytes, what, advice):
    """ValueError when `what` would take more than the memory budget."""
    budget = memory_budget()
    if n_bytes > budget:
        raise ValueError(f"{what} would take {gib(n_bytes)}, more than the {gib(budget)} this machine can give "
                         f"a run: {advice}")
