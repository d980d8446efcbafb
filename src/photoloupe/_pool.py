"""Run one function over many items in worker processes, with bounded memory, surviving a
worker that dies.

Shared by the scan engine and the archive indexer. Results come back as items finish (not in
input order). A worker that dies (a decoder crash, the kernel's OOM killer) breaks the whole
pool: the items it held come back as `Crashed`, and a fresh pool takes the rest.

>>> sorted(r for _, r in imap_unordered(abs, [-2, 1, -3], workers=1))
[1, 2, 3]
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Crashed:
    """The process working on this item stopped unexpectedly."""


CRASHED = Crashed()


def imap_unordered(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int,
    initializer: Callable[[], None] | None = None,
) -> Iterator[tuple[T, R | Crashed]]:
    """(item, fn(item)) for every item, or (item, CRASHED) when its worker died.

    With one worker everything runs in this process. At most two items per worker are in
    flight, so memory stays flat however many items there are.
    """
    if workers <= 1:
        if initializer is not None:
            initializer()
        for item in items:
            yield item, fn(item)
        return
    queue = iter(items)
    while True:
        crashed = yield from _with_pool(fn, queue, workers, initializer)
        if not crashed:
            return
        for item in crashed:
            yield item, CRASHED


def _with_pool(
    fn: Callable[[T], R],
    queue: Iterator[T],
    workers: int,
    initializer: Callable[[], None] | None,
) -> Generator[tuple[T, R], None, list[T]]:
    """Run from `queue` until it is empty (returns []) or the pool breaks (returns the items
    that were in flight)."""
    # forkserver, not fork: a parent that has already run OpenCV or FAISS holds thread pools
    # whose locks a forked child can inherit held, and then hangs on its first resize.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        max_workers=workers, initializer=initializer, mp_context=context
    ) as pool:
        pending: dict[Future[R], T] = {}
        for item in queue:
            pending[pool.submit(fn, item)] = item
            if len(pending) >= workers * 2:
                break
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                item = pending.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    return [item, *pending.values()]
                yield item, result
                nxt = next(queue, None)
                if nxt is not None:
                    try:
                        pending[pool.submit(fn, nxt)] = nxt
                    except BrokenProcessPool:
                        return [nxt, *pending.values()]
    return []
