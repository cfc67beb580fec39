"""A compact map from string keys to small integers, for imports of millions of records (no Django here).

An import must remember every key it has written (item, prompt and response ids, with the row's id,
the line that first used the key and a digest of what that line said) to find duplicates and
conflicts across the whole file. Python dicts of strings and tuples cost 150-250 bytes an entry and
the texts they kept alive far more; this index keeps 32 bytes an entry in numpy arrays: the key's
128-bit BLAKE2b digest (two uint64: `hi` to search on, `lo` to confirm), an int64 value, an int32
line and a uint64 digest of the content. Two different keys are confused only if all 128 bits of
their digests agree (probability about n² / 2¹²⁹: 10⁻²⁵ for ten million keys).

Entries are added a batch at a time into sorted segments that are merged like a binary counter
(a segment is merged into the one before it while that one is at most twice its size), so there are
O(log n) segments, each entry is re-sorted O(log n) times, and a lookup is one `searchsorted` per
segment for a whole batch of keys.
"""
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["KeyIndex", "content_digest", "key_digest"]

_UINT64 = (1 << 64) - 1


def key_digest(key: str) -> bytes:
    """The 16-byte digest a key is stored under."""
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def content_digest(text: str) -> int:
    """A 64-bit digest of `text`, to tell whether two lines that use one key say the same, within one import.

    Python's own string hash (SipHash, with a key drawn per process; 64 bits on the 64-bit platforms we run on):
    it needs no UTF-8 copy of the text and is cached on the string, and it costs a third of a BLAKE2b digest.
    The digests are compared only within the process that made them (one import) and never stored, so that the
    key changing from process to process does not matter. Two different texts agree with probability 2⁻⁶⁴.
    """
    return hash(text) & _UINT64


@dataclass
class _Segment:
    hi: np.ndarray  # (n,) uint64, sorted
    lo: np.ndarray  # (n,) uint64
    value: np.ndarray  # (n,) int64
    line: np.ndarray  # (n,) int32
    check: np.ndarray  # (n,) uint64

    def __len__(self) -> int:
        return len(self.hi)

    @classmethod
    def sorted_from(cls, hi, lo, value, line, check) -> "_Segment":
        order = np.argsort(hi, kind="stable")
        return cls(hi[order], lo[order], value[order], line[order], check[order])

    @classmethod
    def merged(cls, a: "_Segment", b: "_Segment") -> "_Segment":
        return cls.sorted_from(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in _FIELDS))


_FIELDS = ("hi", "lo", "value", "line", "check")


def _split(digests: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.frombuffer(b"".join(digests), dtype="<u8").reshape(-1, 2)  # (n, 2)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


class KeyIndex:
    """key digest (key_digest) → (value, line, check), for keys added once each."""

    def __init__(self) -> None:
        self._segments: list[_Segment] = []

    def __len__(self) -> int:
        return sum(len(s) for s in self._segments)

    @property
    def nbytes(self) -> int:
        return sum(getattr(s, f).nbytes for s in self._segments for f in _FIELDS)

    def add(self, digests: Sequence[bytes], values: Sequence[int], lines: Sequence[int],
            checks: Sequence[int]) -> None:
        """Add entries whose keys are not in the index yet (the caller looked them up first)."""
        if not digests:
            return
        hi, lo = _split(digests)
        self._segments.append(_Segment.sorted_from(
            hi, lo, np.asarray(values, dtype=np.int64), np.asarray(lines, dtype=np.int32),
            np.asarray(checks, dtype=np.uint64),
        ))
        while len(self._segments) > 1 and len(self._segments[-2]) <= 2 * len(self._segments[-1]):
            last = self._segments.pop()
            self._segments[-1] = _Segment.merged(self._segments[-1], last)

    def find(self, digests: Sequence[bytes]) -> dict[bytes, tuple[int, int, int]]:
        """{digest: (value, line, check)} for the given digests that are in the index."""
        if not digests or not self._segments:
            return {}
        qhi, qlo = _split(digests)
        found: dict[bytes, tuple[int, int, int]] = {}
        for segment in self._segments:
            pos = np.minimum(np.searchsorted(segment.hi, qhi), len(segment) - 1)
            same_hi = segment.hi[pos] == qhi
            exact = same_hi & (segment.lo[pos] == qlo)
            for j in np.flatnonzero(same_hi & ~exact):  # another key with the same 64-bit prefix: look on
                p = pos[j] + 1
                while p < len(segment) and segment.hi[p] == qhi[j]:
                    if segment.lo[p] == qlo[j]:
                        pos[j], exact[j] = p, True
                        break
                    p += 1
            hits = np.flatnonzero(exact)
            if len(hits):
                at = pos[hits]
                for j, value, line, check in zip(hits.tolist(), segment.value[at].tolist(),
                                                 segment.line[at].tolist(), segment.check[at].tolist()):
                    found[digests[j]] = (value, line, check)
        return found
