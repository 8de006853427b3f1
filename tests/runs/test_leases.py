"""Endpoint slots taken in blocks: the limit stays exact across holders, idle
slots go back to the endpoint."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from reflectlab.runs import leases
from reflectlab.runs.models import EndpointSlot

pytestmark = pytest.mark.django_db(transaction=True)

ENDPOINT = "http://slots.test/v1"


@pytest.fixture(autouse=True)
def _no_slots_left():
    yield
    EndpointSlot.objects.filter(endpoint=ENDPOINT).delete()


def test_two_blocks_never_hold_more_slots_than_the_limit(monkeypatch):
    """A block keeps its slots while its threads are busy; the dispatcher's
    ``trim`` (here a loop) hands idle ones back, so the other block gets them."""
    monkeypatch.setattr(leases.SlotBlock, "IDLE_SECONDS", 0.02)
    limit, in_use, peak = 3, [0], [0]
    lock = threading.Lock()

    def hammer(block: leases.SlotBlock) -> None:
        try:
            for _ in range(5):
                slot = block.acquire()
                with lock:
                    in_use[0] += 1
                    peak[0] = max(peak[0], in_use[0])
                time.sleep(0.01)
                with lock:
                    in_use[0] -= 1
                block.release(slot)
        finally:
            connections.close_all()

    blocks = [
        leases.SlotBlock(leases.EndpointSemaphore(ENDPOINT, limit), leases.new_holder())
        for _ in range(2)
    ]
    threads = [threading.Thread(target=hammer, args=(b,)) for b in blocks for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while any(t.is_alive() for t in threads):
        assert time.monotonic() < deadline, "a block starved"
        for block in blocks:
            block.trim()
        time.sleep(0.01)
    assert 1 <= peak[0] <= limit
    for block in blocks:
        block.close()
    assert leases.EndpointSemaphore(ENDPOINT, limit).in_use() == 0


def test_idle_slots_go_back_to_the_endpoint(monkeypatch):
    monkeypatch.setattr(leases.SlotBlock, "IDLE_SECONDS", 0.05)
    semaphore = leases.EndpointSemaphore(ENDPOINT, 2)
    block = leases.SlotBlock(semaphore, leases.new_holder())
    slot = block.acquire()
    assert semaphore.in_use() == 1
    block.release(slot)
    block.trim()  # just released: kept for the next request
    assert semaphore.in_use() == 1
    time.sleep(0.1)
    block.trim()
    assert semaphore.in_use() == 0


def test_a_block_waits_for_a_slot_and_gives_up_when_told():
    semaphore = leases.EndpointSemaphore(ENDPOINT, 1)
    other = leases.new_holder()
    taken = semaphore.try_acquire(other)
    block = leases.SlotBlock(semaphore, leases.new_holder())
    assert block.acquire(stop=lambda: True) is None
    semaphore.release(taken, other)
    assert block.acquire(stop=lambda: False) is not None
    block.close()
    assert semaphore.in_use() == 0
