"""Reading the file in a helper thread while the writer works, and the garbage collector paused."""
import gc
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Self

from ...importing import ImportLimits, ImportOptions, ParseResult, parse_chunks


class ParseAhead:
    """`parse_chunks` run in a helper thread, as far ahead of the writer as it gets.

    The parser is pure Python and touches no database; it runs while the writer waits for
    PostgreSQL (waiting releases the GIL), so on two cores parsing hides behind writing. It runs
    at most `AHEAD` pieces ahead, so that memory holds a few pieces whatever the file's size.
    Iterating yields the pieces and re-raises whatever the parser raised.
    """

    _DONE = object()
    AHEAD = 2  # pieces parsed and not yet taken: enough to keep the writer busy

    def __init__(
        self, stream: IO[bytes], fmt: str, options: ImportOptions | None, *, size: int, limits: ImportLimits
    ) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=self.AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(stream, fmt, options, size, limits), name="import-parser", daemon=True
        )
        self.cpu_seconds = 0.0
        self.wait_seconds = 0.0

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()  # the writer failed or is done: the parser stops at its next piece
        self._thread.join()

    def __iter__(self) -> Iterator[ParseResult]:
        while True:
            began = time.perf_counter()
            piece = self._queue.get()
            self.wait_seconds += time.perf_counter() - began
            if piece is self._DONE:
                return
            if isinstance(piece, BaseException):
                raise piece
            yield piece

    def _run(
        self, stream: IO[bytes], fmt: str, options: ImportOptions | None, size: int, limits: ImportLimits
    ) -> None:
        began = time.thread_time()
        try:
            for piece in parse_chunks(stream, fmt, options, size=size, limits=limits):
                if not self._put(piece):  # the writer failed or stopped: nobody reads on
                    return
            self._put(self._DONE)
        except BaseException as exc:  # handed to the writer's thread, which raises it
            self._put(exc)
        finally:
            self.cpu_seconds = time.thread_time() - began

    def _put(self, piece: object) -> bool:
        """Queue `piece`, waiting for room; False if the writer stopped reading meanwhile."""
        while not self._stop.is_set():
            try:
                self._queue.put(piece, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while importing.

    An import allocates millions of small objects that live until it ends (records, keys, rows)
    and makes no reference cycles worth collecting; the collector's repeated passes over them
    took a fifth of a 100k-pair import. The pause is process-wide (other threads see it too)
    and ends with the import.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
