"""`peerline dev`'s local-only setting: demo supervisors skip two-step sign-in unless `--mfa` or
PEERLINE_LOCAL_MFA=1 asks for it (the setting exists only in the local line; the template has none)."""

from __future__ import annotations

import pytest

from peerline_ops.cli import demo_users_skip_totp


def test_demo_supervisors_skip_totp_by_default() -> None:
    assert demo_users_skip_totp(False, {}) is True


@pytest.mark.parametrize(("flag", "environment"), [(True, {}), (False, {"PEERLINE_LOCAL_MFA": "1"})])
def test_the_flag_or_the_environment_asks_for_it(flag: bool, environment: dict[str, str]) -> None:
    assert demo_users_skip_totp(flag, environment) is False
