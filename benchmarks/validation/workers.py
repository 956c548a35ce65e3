"""Running a part's scenarios in worker processes."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def run_tasks(task: Callable[[Any], Any], tasks: Iterable[Any], workers: int, initializer: Callable[[], None]) -> list:
    """``task`` over ``tasks`` in input order: here when ``workers`` <= 1, else in that many processes.

    Spawn, not fork: a fork of a process with threads (a test runner's, BLAS's) can copy a held
    lock into the child, which then waits on it for ever. An executor, not a Pool: a worker that
    dies (a native crash) breaks the run with an error instead of leaving its task unanswered for
    ever. No max_tasks_per_child: with it, Python 3.11's executor can stop replacing workers and hang.
    """
    if workers <= 1:
        initializer()
        return [task(t) for t in tasks]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=initializer) as pool:
        return list(pool.map(task, tasks))
