"""The Sender's overall bucket serves replies before bulk sends, and its
backoff stays within bounds (issue 14, point 6)."""

from __future__ import annotations

import asyncio

from bot.sender import PriorityBucket, backoff, bulk, is_bulk


def test_backoff_doubles_from_half_a_second_up_to_four_with_jitter():
    low = [backoff(n, rng=lambda: 0.0) for n in range(6)]
    high = [backoff(n, rng=lambda: 1.0) for n in range(6)]
    assert high == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert low == [h / 2 for h in high]


def test_bulk_marks_the_context_and_ends_with_it():
    assert not is_bulk()
    with bulk():
        assert is_bulk()
    assert not is_bulk()


async def test_an_interactive_send_goes_before_queued_bulk_sends():
    bucket = PriorityBucket(rate=200, capacity=5, reserve=2)
    order: list[str] = []

    async def take(name: str, is_bulk: bool) -> None:
        await bucket.take(bulk=is_bulk)
        order.append(name)

    tasks = [asyncio.create_task(take(f"b{i}", True)) for i in range(30)]
    await asyncio.sleep(0)
    assert len(order) == 3  # bulk leaves the reserve (2 of 5 tokens) alone
    assert bucket.waiting == (0, 27)
    tasks.append(asyncio.create_task(take("reply", False)))
    await asyncio.sleep(0)
    assert order[-1] == "reply"  # at once, from the reserve
    await asyncio.gather(*tasks)
    assert sorted(order) == sorted([f"b{i}" for i in range(30)] + ["reply"])


async def test_bulk_waits_while_replies_wait():
    bucket = PriorityBucket(rate=100, capacity=1, reserve=0)
    order: list[str] = []

    async def take(name: str, is_bulk: bool) -> None:
        await bucket.take(bulk=is_bulk)
        order.append(name)

    await bucket.take()  # the bucket is empty now
    tasks = [asyncio.create_task(take(f"b{i}", True)) for i in range(5)]
    tasks += [asyncio.create_task(take(f"r{i}", False)) for i in range(3)]
    await asyncio.gather(*tasks)
    assert order[:3] == ["r0", "r1", "r2"]


async def test_a_cancelled_waiter_leaves_the_queue():
    bucket = PriorityBucket(rate=10, capacity=1, reserve=0)
    await bucket.take()
    waiter = asyncio.create_task(bucket.take(bulk=True))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert bucket.waiting == (0, 0)
    await asyncio.wait_for(bucket.take(), 1)
