"""What API Gateway and Lambda's SQS event sources do, emulated on loopback for the local line.

- ``HttpApiEmulator`` serves the HTTP API routes declared in ``template.yaml`` and invokes the function behind each
  route with a real API Gateway v2 (payload 2.0) event — form bodies base64-encoded, as HTTP APIs deliver them.
  Route templates match as API Gateway matches them (``/volunteer/{proxy+}``, ``/hooks/{id}``, ``ANY``); routes
  behind a JWT authorizer get what API Gateway does to them (``JwtVerifier``: signature against the issuer's JWKS,
  issuer, audience or ``client_id``, expiry; 401 without invoking the function; the claims in
  ``requestContext.authorizer.jwt``); CORS preflights are answered from the API's ``CorsConfiguration``.
- ``WebSocketApiEmulator`` serves a WebSocket API's routes (``$connect`` can refuse the upgrade, ``$disconnect``,
  messages by route selection) by invoking its function with real-shaped events, and the management API
  (``POST /@connections/{id}``, 410 Gone for unknown ids) the functions push through.
- ``SqsEventSourcePoller`` polls a queue declared as a function's SQS event source and invokes the function with
  real SQS events: batch size honoured, FIFO groups in order, partial batch failures (only the reported items
  stay on the queue, to come back after the visibility timeout and go to the DLQ by the redrive policy), message
  delays honoured by SQS itself.
"""


from peerline_local.emulators.endpoint import FunctionEndpoint, FunctionInvokeError, wait_until
from peerline_local.emulators.events import api_gateway_v2_event, websocket_event
from peerline_local.emulators.http_api import HttpApiEmulator, Route
from peerline_local.emulators.jwt_auth import JwtRejectedError, JwtVerifier, cognito_jwks_url
from peerline_local.emulators.sqs_poller import SqsEventSourcePoller
from peerline_local.emulators.websocket_api import WebSocketApiEmulator

__all__ = [
    "FunctionEndpoint",
    "FunctionInvokeError",
    "HttpApiEmulator",
    "JwtRejectedError",
    "JwtVerifier",
    "Route",
    "SqsEventSourcePoller",
    "WebSocketApiEmulator",
    "api_gateway_v2_event",
    "cognito_jwks_url",
    "wait_until",
    "websocket_event",
]
