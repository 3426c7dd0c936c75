"""Whether a supervisor has TOTP: the pool's "yes" is remembered a few minutes, a "no" never."""

from __future__ import annotations

from peerline.two_step import TwoStepCheck


class Pool:
    def __init__(self) -> None:
        self.enabled: set[str] = set()
        self.asked = 0

    def totp_enabled(self, username: str) -> bool:
        self.asked += 1
        return username in self.enabled


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_no_is_asked_again_every_time_so_a_fresh_set_up_counts_at_once() -> None:
    # given a supervisor without TOTP
    pool, clock = Pool(), Clock()
    check = TwoStepCheck(pool, remember_seconds=300, monotonic=clock)
    assert check.has_totp("rae") is False

    # when they set it up a moment later
    pool.enabled.add("rae")

    # then the next check says yes
    assert check.has_totp("rae") is True


def test_a_yes_is_remembered_for_a_while_then_asked_again() -> None:
    # given a supervisor with TOTP, checked once
    pool, clock = Pool(), Clock()
    pool.enabled.add("rae")
    check = TwoStepCheck(pool, remember_seconds=300, monotonic=clock)
    assert check.has_totp("rae") is True

    # when an operator removes it
    pool.enabled.clear()

    # then the pool isn't asked again within the time remembered, and is after it
    clock.now += 299
    assert check.has_totp("rae") is True and pool.asked == 1
    clock.now += 2
    assert check.has_totp("rae") is False and pool.asked == 2
