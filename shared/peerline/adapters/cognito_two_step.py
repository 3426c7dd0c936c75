"""Whether a volunteer signs in with a TOTP code, from the user pool (``AdminGetUser`` → ``UserMFASettingList``)."""

from __future__ import annotations

from typing import Any

from peerline.adapters.aws import client


class CognitoTwoStepSettings:
    def __init__(self, user_pool_id: str, cognito: Any = None) -> None:
        self._user_pool_id = user_pool_id
        self._cognito = cognito

    def totp_enabled(self, username: str) -> bool:
        cognito = self._cognito or client("cognito-idp")
        try:
            user = cognito.admin_get_user(UserPoolId=self._user_pool_id, Username=username)
        except cognito.exceptions.UserNotFoundException:
            return False
        return "SOFTWARE_TOKEN_MFA" in user.get("UserMFASettingList", [])
