"""common/progress.py: the contract between engines and whatever watches them (no Django here)."""
import math

import pytest

from common.progress import Cancelled, MemoryProgress, NullProgress, Progress


def loop(progress: Progress, steps: int) -> int:
    """A stand-in engine loop, written the way engines are asked to: check, work, report."""
    done = 0
    for step in range(1, steps + 1):
        progress.check_cancelled()
        done = step
        progress.metric(step, loss=1.0 / step)
        progress.update(step / steps, f"step {step}")
    return done


def test_both_implementations_are_progress():
    assert isinstance(MemoryProgress(), Progress) and isinstance(NullProgress(), Progress)


def test_memory_progress_records_everything_in_order():
    progress = MemoryProgress()
    assert loop(progress, 4) == 4
    assert progress.fractions == [0.25, 0.5, 0.75, 1.0] and progress.fraction == 1.0
    assert progress.messages[-1] == "step 4"
    assert progress.metrics[1] == {"step": 2, "loss": 0.5}
    assert progress.checks == 4 and not progress.cancelled


def test_cancel_at_check_stops_the_loop_at_that_step():
    progress = MemoryProgress(cancel_at_check=3)
    with pytest.raises(Cancelled):
        loop(progress, 10)
    assert [m["step"] for m in progress.metrics] == [1, 2] and progress.cancelled


def test_cancel_makes_the_next_check_raise():
    progress = MemoryProgress()
    progress.check_cancelled()
    progress.cancel()
    with pytest.raises(Cancelled):
        progress.check_cancelled()


@pytest.mark.parametrize("impl", [MemoryProgress, NullProgress])
def test_bad_reports_raise_and_small_overshoots_are_clamped(impl):
    progress = impl()
    with pytest.raises(ValueError, match="NaN"):
        progress.update(math.nan)
    with pytest.raises(ValueError, match="not finite"):
        progress.metric(3, loss=math.inf)
    with pytest.raises(ValueError, match="at least one"):
        progress.metric(3)
    with pytest.raises(ValueError, match="non-negative integer"):
        progress.metric(-1, loss=1.0)
    progress.update(1.0000000002)
    progress.update(-1e-12)
    if isinstance(progress, MemoryProgress):
        assert progress.fractions == [1.0, 0.0]


def test_null_progress_never_cancels():
    assert loop(NullProgress(), 3) == 3
