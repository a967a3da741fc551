"""Interleaved passes: independent learning passes (one per bank) advanced a batch at a time on a pool of threads.

Each pass is a generator that learns one batch per step (:meth:`memorynet.engine.rule.LearningRule.steps`). The
threads take passes from one first-in, first-out queue, advance each by one step and put it back, so every pass
progresses at the same pace and the threads stay busy to the end: with 9 banks on 2 threads, no thread learns the
last bank alone while the other waits. A pass is only ever advanced by one thread at a time, and its batches in
their order, so the banks are exactly those of passes run one after the other.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from tqdm.auto import tqdm

__all__ = ["run_interleaved"]

_DONE = None  # put once per thread when every pass has ended or one has failed


def run_interleaved(passes: list[Iterator], n_threads: int, total_steps: int | None = None,
                    progress: bool = False, desc: str = "one pass") -> None:
    """Advance every pass to its end, one step at a time, on ``n_threads`` threads (1: one pass after another).

    ``total_steps`` (all passes together) sizes the progress bar. The first exception raised by a pass stops the
    others after their current step and is raised here.
    """
    bar = tqdm(total=total_steps, desc=desc, unit="batch", disable=not progress, leave=False)
    with bar:
        if n_threads <= 1 or len(passes) <= 1:
            for steps in passes:
                for _ in steps:
                    bar.update()
            return
        ready: queue.SimpleQueue = queue.SimpleQueue()
        for steps in passes:
            ready.put(steps)
        lock, state = threading.Lock(), {"running": len(passes), "error": None}

        def finish(error: BaseException | None = None) -> None:
            """A pass ended (or failed with ``error``): when none runs any more, or on failure, stop every thread."""
            with lock:
                if error is None:
                    state["running"] -= 1
                elif state["error"] is None:
                    state["error"] = error
                if state["running"] == 0 or state["error"] is not None:
                    for _ in range(n_threads):
                        ready.put(_DONE)

        def worker() -> None:
            while (steps := ready.get()) is not _DONE and state["error"] is None:
                try:
                    next(steps)
                except StopIteration:
                    finish()
                    continue
                except BaseException as error:  # noqa: BLE001 - handed to the caller below
                    finish(error)
                    return
                bar.update()
                ready.put(steps)

        with ThreadPoolExecutor(n_threads) as pool:
            for future in [pool.submit(worker) for _ in range(n_threads)]:
                future.result()
        if state["error"] is not None:
            raise state["error"]
