"""Running the UI's async handlers from synchronous tests."""

import asyncio
import concurrent.futures


def run_async(coro):
    """Run a coroutine to completion on a thread of its own.

    The session-scoped Playwright (sync API) keeps an event loop running on the main thread, so
    `asyncio.run` there fails in every test that comes after the browser tests.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
