"""KMS's refusal to use a disabled key, which moto (5.x) doesn't enforce, for the local line's AWS.

On AWS, ``Encrypt``/``Decrypt``/``GenerateDataKey`` with a disabled key answer ``DisabledException``, and with a key
pending deletion ``KMSInvalidStateException``; moto encrypts and decrypts regardless. So that a KMS fault can be
played on the local line (``kms.disable_key``, then text the line), this WSGI middleware answers those operations
as KMS does when the key moto holds is not enabled, and hands everything else to moto untouched.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.kms.models import kms_backends

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_KEY_OPERATIONS = {
    "TrentService.Encrypt",
    "TrentService.Decrypt",
    "TrentService.ReEncrypt",
    "TrentService.GenerateDataKey",
    "TrentService.GenerateDataKeyWithoutPlaintext",
}
_REGION_IN_CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/kms/")
_REFUSALS = {
    "Disabled": ("DisabledException", "{arn} is disabled."),
    "PendingDeletion": ("KMSInvalidStateException", "{arn} is pending deletion."),
}


def _key_state(key_id: str, region: str) -> tuple[str, str] | None:
    """The state and ARN of the key ``key_id`` (any spelling) names, or None if moto doesn't know it."""
    try:
        backend = kms_backends[DEFAULT_ACCOUNT_ID][region]
        key = backend.keys[backend.any_id_to_key_id(key_id)]
    except Exception:  # unknown key or alias: moto gives its own answer
        return None
    return str(key.key_state), str(key.arn)


class KmsKeyStateMiddleware:
    """WSGI: refuses cryptographic operations on a disabled or pending-deletion key, and passes on the rest."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") not in _KEY_OPERATIONS:
            return self._app(environ, start_response)
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(raw)  # moto reads the request again
        region = _REGION_IN_CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        try:
            key_id = json.loads(raw or b"{}").get("KeyId")
        except (ValueError, AttributeError):
            key_id = None
        # A Decrypt without KeyId names its key inside moto's ciphertext only; it is left to moto.
        found = _key_state(str(key_id), region.group(1)) if key_id and region else None
        if found is None or found[0] not in _REFUSALS:
            return self._app(environ, start_response)
        error_type, message = _REFUSALS[found[0]]
        body = json.dumps({"__type": error_type, "message": message.format(arn=found[1])}).encode()
        start_response(
            "400 Bad Request",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Content-Length", str(len(body))),
                ("x-amzn-RequestId", str(uuid.uuid4())),
            ],
        )
        return [body]
