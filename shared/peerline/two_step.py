"""Supervisors' two-step sign-in: whether a user has an authenticator app (TOTP) on, remembered briefly.

Cognito puts nothing about MFA in an access token, so the volunteer API and the dashboard socket ask the user pool.
Once TOTP is on, Cognito asks every sign-in for a code; until then a supervisor is a volunteer (supervisor-only
operations refused, only their own conversations seen and pushed), and the dashboard leads them through setting it up. Only a "yes" is remembered (a few minutes per container): a supervisor who has just
set it up is let in at once, and one whose TOTP an operator removed is refused within that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

SETUP_REQUIRED = "set up two-step sign-in first"


class TwoStepSettings(Protocol):
    """The user pool's answer: does this user sign in with a TOTP code?"""

    def totp_enabled(self, username: str) -> bool: ...


@dataclass
class TwoStepCheck:
    """``has_totp(username)``: the pool's answer, a "yes" remembered for ``remember_seconds``."""

    settings: TwoStepSettings
    remember_seconds: float = 300.0
    monotonic: Callable[[], float] = time.monotonic
    _confirmed_at: dict[str, float] = field(default_factory=dict)

    def has_totp(self, username: str) -> bool:
        confirmed = self._confirmed_at.get(username)
        if confirmed is not None and self.monotonic() - confirmed < self.remember_seconds:
            return True
        if not self.settings.totp_enabled(username):
            self._confirmed_at.pop(username, None)
            return False
        self._confirmed_at[username] = self.monotonic()
        return True
