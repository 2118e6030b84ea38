"""Answer slots: waiters queue in order, a slot freed on another thread wakes the next, and a
waiter that gives up (its browser went away) neither keeps a slot nor loses one for others."""

from __future__ import annotations

import asyncio
import threading

import pytest
from ui_async import run_async

from ui.slots import AnswerSlots, Slots


def test_slots_limit_holders_and_pass_on_in_order_from_other_threads():
    async def scenario():
        slots = Slots(2)
        await slots.acquire()
        await slots.acquire()
        order: list[int] = []

        async def wait(n: int) -> None:
            await slots.acquire()
            order.append(n)

        waiters = [asyncio.create_task(wait(n)) for n in range(3)]
        await asyncio.sleep(0.01)
        assert (slots.held, slots.waiting, order) == (2, 3, [])
        threading.Thread(target=slots.release).start()  # answers end on worker threads
        await asyncio.wait_for(waiters[0], 30)
        assert order == [0] and slots.held == 2 and slots.waiting == 2
        for _ in range(2):
            threading.Thread(target=slots.release).start()
        await asyncio.wait_for(asyncio.gather(*waiters[1:]), 30)
        assert order == [0, 1, 2] and slots.waiting == 0
        for _ in range(2):
            slots.release()
        assert slots.held == 0

    run_async(scenario())


def test_a_waiter_that_gives_up_leaves_the_line_without_taking_a_slot():
    async def scenario():
        slots = Slots(1)
        await slots.acquire()
        gone = asyncio.create_task(slots.acquire())
        stays = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0.01)
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert slots.waiting == 1
        slots.release()
        await asyncio.wait_for(stays, 30)
        assert slots.held == 1
        # Granted and cancelled in the same instant: the slot is passed on, not lost.
        late = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0.01)
        slots.release()
        late.cancel()
        with pytest.raises(asyncio.CancelledError):
            await late
        assert slots.held == 0 and slots.waiting == 0

    run_async(scenario())


def test_extractive_and_model_answers_have_separate_slots():
    slots = AnswerSlots()
    assert slots.for_backend("extractive") is slots.extractive
    assert slots.for_backend("litellm") is slots.model is slots.for_backend("local")
    assert slots.extractive is not slots.model
