"""Leadership: one holder per name across processes sharing the database; the lead moves when released."""

from __future__ import annotations

import subprocess
import sys
import threading

from urbis.core.db import Database
from urbis.core.leader import LeaderLock, LeaderRunner, SlotShare


def test_one_holder_per_name(database: Database, tenant: str) -> None:
    first = LeaderLock(database, f"job-{tenant}")
    second = LeaderLock(Database(database.url), f"job-{tenant}")
    other = LeaderLock(database, f"other-{tenant}")
    try:
        assert first.try_acquire()
        assert first.try_acquire()  # holding it already
        assert not second.try_acquire()
        assert other.try_acquire()  # another name is independent
        first.release()
        assert second.try_acquire()
        assert not first.try_acquire()
    finally:
        for lock in (first, second, other):
            lock.release()
        second.db.dispose()


def test_the_lead_is_released_when_the_holder_dies(database: Database, tenant: str) -> None:
    name = f"crash-{tenant}"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from urbis.core.db import Database\n"
            "from urbis.core.leader import LeaderLock\n"
            f"lock = LeaderLock(Database({database.url!r}), {name!r})\n"
            "assert lock.try_acquire()\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        follower = LeaderLock(database, name)
        assert not follower.try_acquire()
        holder.kill()
        holder.wait(10)
        deadline = threading.Event()
        for _ in range(100):
            if follower.try_acquire():
                break
            deadline.wait(0.05)
        assert follower.held
        follower.release()
    finally:
        holder.kill()


def test_a_runner_starts_its_job_only_while_leading(database: Database, tenant: str) -> None:
    started: list[str] = []
    stopped: list[str] = []
    one = LeaderRunner(
        database, f"run-{tenant}", lambda: started.append("one"), lambda: stopped.append("one"), retry_seconds=0.05
    )
    two = LeaderRunner(
        database, f"run-{tenant}", lambda: started.append("two"), lambda: stopped.append("two"), retry_seconds=0.05
    )
    one.start()
    wait = threading.Event()
    for _ in range(100):
        if started:
            break
        wait.wait(0.02)
    two.start()
    wait.wait(0.3)
    assert started == ["one"]
    one.stop()
    for _ in range(200):
        if len(started) == 2:
            break
        wait.wait(0.02)
    two.stop()
    assert started == ["one", "two"]
    assert stopped == ["one", "two"]


class Ticking:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_slots_spread_one_per_process_then_survivors_take_the_orphans(database: Database, tenant: str) -> None:
    other_db = Database(database.url)
    clock = Ticking()
    first, second = SlotShare(patience_seconds=10, clock=clock), SlotShare(patience_seconds=10, clock=clock)
    slots = [f"slot-{n}-{tenant}" for n in range(2)]
    first_locks = [LeaderLock(database, name) for name in slots]
    second_locks = [LeaderLock(other_db, name) for name in slots]
    try:
        assert first.try_claim(first_locks[0])
        assert not first.try_claim(first_locks[1])  # it has one: leave the other to a process still starting
        assert not second.try_claim(second_locks[0])  # taken
        assert second.try_claim(second_locks[1])
        clock.now = 11
        assert not first.try_claim(first_locks[1])  # patience over, but the slot is held
        second_locks[1].release()  # its process dies
        second.released()
        assert first.try_claim(first_locks[1])
        assert first.held == 2 and second.held == 0
    finally:
        for lock in first_locks + second_locks:
            lock.release()
        other_db.dispose()
