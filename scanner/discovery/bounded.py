"""Bounded concurrency for discovery's asyncio phases (identification, UDP): a global limit and
a small per-host limit (clinical networks hold fragile devices)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


async def run_per_host(
    work: Sequence[tuple[str, Sequence[T]]],
    fn: Callable[[str, T], Awaitable[bool]],
    *,
    global_limit: int,
    per_host: int,
) -> None:
    """Run ``fn(host, item)`` for every item, at most ``global_limit`` at once overall and at
    most ``per_host`` at once for one host. ``fn`` returns False to abandon the rest of that
    host's items (the host turned out to be unreachable).

    Hosts are taken in order and only a bounded number are active at a time, so memory stays
    flat however large the scope. An exception in ``fn`` (``OutOfScopeError``) cancels
    everything and propagates.
    """
    if not work:
        return
    global_sem = asyncio.Semaphore(max(1, global_limit))
    per_host = max(1, per_host)
    # Enough active hosts to keep every global slot busy, twice over so that a host finishing
    # its last items does not leave slots idle.
    active_hosts = min(len(work), max(1, -(-global_limit // per_host)) * 2)
    next_host = iter(work)

    async def host_runner() -> None:
        for host, items in next_host:
            queue = list(reversed(items))
            stop = False

            async def worker(host: str = host, queue: list[T] = queue) -> None:
                nonlocal stop
                while queue and not stop:
                    item = queue.pop()
                    async with global_sem:
                        if stop:
                            return
                        keep_going = await fn(host, item)
                    if not keep_going:
                        stop = True

            await gather_first_error(worker() for _ in range(min(per_host, len(items))))

    await gather_first_error(host_runner() for _ in range(active_hosts))


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


async def gather_first_error(coros: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run the coroutines together; on the first failure cancel the rest and re-raise that
    exception itself (callers expect ``OutOfScopeError``, not an ``ExceptionGroup``)."""
    try:
        async with asyncio.TaskGroup() as tg:
            for coro in coros:
                tg.create_task(coro)
    except BaseExceptionGroup as group:
        raise _first_leaf(group) from None
