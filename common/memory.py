"""Large blocks go back to the system when they are freed (glibc's malloc), so a process's peak memory is what it
holds at once, not what it once held.

glibc serves an allocation above its mmap threshold (128 KB to start with) by a mapping of its own, unmapped when
freed. But each time such a block is freed, glibc raises the threshold to that block's size (up to 32 MB), after
which arrays below it come from the heap, and a freed array in the middle of the heap stays in the process's memory.
Curation holds arrays of 1 to 24 MB per million items and frees them phase by phase: at a million items, the
freeze's resident memory after its aggregation was ~30 MB above what it held (bench/RESULTS.md, *Curate memory,
round 6*). Setting the threshold turns its adjustment off (mallopt(3)); blocks from MMAP_THRESHOLD up are mapped
and unmapped, smaller ones (a chunk's temporaries) reuse the heap as before.
"""
from __future__ import annotations

import ctypes

__all__ = ["MMAP_THRESHOLD", "unmap_large_blocks"]

MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD = -3  # malloc.h


def unmap_large_blocks(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at `threshold` bytes for this process (and the processes it forks). Returns
    False where the C library is not glibc (nothing is changed there)."""
    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on (no search, no subprocess)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # glibc only: musl and others have no mallopt of this meaning
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(_M_MMAP_THRESHOLD, threshold) == 1
