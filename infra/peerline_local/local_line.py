"""The whole line on 127.0.0.1, built from ``template.yaml``: moto as AWS, every function in its own process,
the HTTP API and SQS event sources emulated, and a Twilio-compatible fake with a phone simulator.

``LocalLine(...).start()`` returns once everything answers and ``.peerline/local.json`` is written; ``stop()``
tears everything down (the AWS state lives in moto's memory, so each start is a fresh line).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

import boto3
import requests

from peerline.adapters.volunteers import DynamoVolunteerRegistry
from peerline.phone import mask_phone_numbers
from peerline_local.cognito_totp import set_up_totp
from peerline_local.emulators import (
    FunctionEndpoint,
    HttpApiEmulator,
    JwtVerifier,
    Route,
    SqsEventSourcePoller,
    WebSocketApiEmulator,
    cognito_jwks_url,
)
from peerline_local.local_aws import LocalAwsServer
from peerline_local.paths import project_root
from peerline_local.stack import FunctionSpec, LocalStack, provision
from peerline_local.twilio_fake import TwilioFake
from peerline_ops.volunteers import VolunteerAdmin

log = logging.getLogger("peerline.local")

REGION = "us-east-1"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
DEFAULT_LINE_NUMBER = "+15555550000"


@dataclass(frozen=True)
class DemoUser:
    """A volunteer the local line signs up at start, with a known password (meets the pool's policy)."""

    username: str
    password: str
    role: str  # "volunteer" or "supervisor": what they are for in a demo
    display_name: str
    email: str
    languages: tuple[str, ...]
    roles: tuple[str, ...]


DEMO_USERS = (
    DemoUser(
        "volunteer.en", "Peerline-Volunteer-1", "volunteer", "Alex", "volunteer.en@example.org", ("en",), ("volunteer",)
    ),
    DemoUser(
        "volunteer.es",
        "Peerline-Voluntaria-2",
        "volunteer",
        "Sofía",
        "volunteer.es@example.org",
        ("es", "en"),
        ("volunteer",),
    ),
    DemoUser(
        "supervisor",
        "Peerline-Supervisor-3",
        "supervisor",
        "Jordan",
        "supervisor@example.org",
        ("en", "es"),
        ("volunteer", "supervisor"),
    ),
)


@dataclass
class LocalLineOptions:
    root: Path = field(default_factory=project_root)
    state_dir: Path | None = None  # default: <root>/.peerline
    api_port: int = 0
    aws_port: int = 0
    twilio_port: int = 0
    # The dashboard's WebSocket API (its management API, which functions post to, takes any free port).
    socket_port: int = 0
    dashboard_port: int = 0
    line_number: str = DEFAULT_LINE_NUMBER
    # The demo on-call professional's phone (simulated by the Twilio fake).
    on_call_number: str = "+15555550911"
    stack_name: str = "peerline-local"
    # Template parameter overrides (e.g. shorter timers for tests).
    parameters: dict[str, str] = field(default_factory=dict)
    # Extra environment for every function (e.g. SEND_ATTEMPTS).
    function_environment: dict[str, str] = field(default_factory=dict)
    # Where the functions' own log lines go (already masked by their formatter; masked again here).
    log_sink: Callable[[str, str], None] | None = None
    # Local only (never in the template): demo supervisors have TOTP on, and their sign-in challenge is answered
    # for them, so they sign in with a password. False (`peerline dev --mfa`): they set it up in the dashboard.
    demo_users_skip_totp: bool = True


class _FunctionProcess:
    """A function host subprocess and the thread that relays its output."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], sink: Callable[[str, str], None]) -> None:
        command = [
            sys.executable,
            "-m",
            "peerline_local.function_host",
            "--name",
            spec.logical_id,
            "--code-uri",
            str(spec.code_uri),
            "--handler",
            spec.handler,
            "--timeout",
            str(spec.timeout),
            "--memory",
            str(spec.memory_size),
            "--arn",
            f"arn:aws:lambda:{REGION}:123456789012:function:{spec.logical_id}",
        ]
        for layer in spec.layer_content_dirs:
            command += ["--layer-dir", str(layer)]
        self.spec = spec
        self._sink = sink
        self.process = subprocess.Popen(
            command,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        assert self.process.stdout is not None
        first_line = self.process.stdout.readline().strip()
        if not first_line.startswith("READY "):
            rest = self.process.stdout.read()
            raise RuntimeError(f"{spec.logical_id} did not start: {mask_phone_numbers(first_line + rest)[-2000:]}")
        self.url = f"http://127.0.0.1:{first_line.split()[1]}/invoke"
        self._relay = threading.Thread(target=self._relay_output, args=(self.process.stdout,), daemon=True)
        self._relay.start()

    def _relay_output(self, stream: IO[str]) -> None:
        for line in stream:
            self._sink(self.spec.logical_id, mask_phone_numbers(line.rstrip("\n")))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


class LocalLine:
    """Everything ``make dev`` runs, as one object (the e2e tests start it the same way)."""

    def __init__(self, options: LocalLineOptions | None = None) -> None:
        self.options = options or LocalLineOptions()
        self.state_dir = self.options.state_dir or self.options.root / ".peerline"
        self.account_sid = "AC" + secrets.token_hex(16)
        self.auth_token = secrets.token_hex(16)
        self.stack: LocalStack | None = None
        self.info: dict[str, Any] = {}
        self._moto: LocalAwsServer | None = None
        self._fake: TwilioFake | None = None
        self._dashboard: Any = None
        self._api: HttpApiEmulator | None = None
        self._functions: list[_FunctionProcess] = []
        self._pollers: list[SqsEventSourcePoller] = []
        self._sockets: list[WebSocketApiEmulator] = []
        # The template's own URLs of its WebSocket APIs → the loopback emulator's (in functions' environment).
        self._url_swaps: dict[str, str] = {}
        self._log_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> dict[str, Any]:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self.info

    def _start(self) -> None:
        options = self.options
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
        # Every server binds its port itself (the preferred one, else any free one) and reports what it got.
        # moto, plus the Cognito RevokeToken the dashboard signs out with (moto lacks it).
        self._moto = LocalAwsServer("127.0.0.1", options.aws_port).start()
        aws_url = self._moto.url
        # The HTTP API is bound first, with no routes yet: the template's PublicBaseUrl is its URL.
        self._api = HttpApiEmulator([], port=options.api_port).start()
        api_url = self._api.url
        session = boto3.session.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=REGION,
        )
        parameters = {
            "LineNumber": options.line_number,
            "PublicBaseUrl": api_url,
            # Per stack: lines started one after another in one process share moto's in-memory backend.
            "TwilioSecretName": f"{options.stack_name}/twilio",
            **options.parameters,
        }
        self.stack = provision(
            options.root / "template.yaml",
            parameters=parameters,
            stack_name=options.stack_name,
            session=session,
            endpoint_url=aws_url,
        )
        twilio_secret_name = parameters["TwilioSecretName"]
        session.client("secretsmanager", endpoint_url=aws_url).create_secret(
            Name=twilio_secret_name,
            SecretString=json.dumps({"account_sid": self.account_sid, "auth_token": self.auth_token}),
        )

        self._fake = TwilioFake(
            account_sid=self.account_sid,
            auth_token=self.auth_token,
            line_number=options.line_number,
            port=options.twilio_port,
            inbound_webhook_url=f"{api_url}/sms/inbound",
        )
        self._fake.start()

        user_pool_id = self.stack.physical_id("VolunteerUserPool")
        user_pool_client_id = self.stack.physical_id("DashboardUserPoolClient")
        demo_users = self._sign_up_demo_users(session, aws_url, user_pool_id)
        if options.demo_users_skip_totp:
            self._let_demo_supervisors_skip_totp(session, aws_url, user_pool_id, user_pool_client_id)
        self._put_demo_on_call(session, aws_url)

        self._bind_websocket_apis()
        environment = self._function_environment(aws_url)
        endpoints = self._start_functions(environment)
        self._start_websocket_apis(endpoints)
        routes = [
            Route(
                route.method,
                route.path,
                endpoints[route.function_logical_id],
                authorizer=self.stack.http_authorizers[route.authorizer] if route.authorizer else None,
                authorization_scopes=route.authorization_scopes,
            )
            for route in self.stack.http_routes
        ]
        # API Gateway fetches the issuer's JWKS; a Cognito issuer's keys are served by moto here.
        verifier = JwtVerifier(cognito_jwks_url(aws_url))
        self._api.route(routes, cors=self.stack.http_cors, verifier=verifier)
        sqs = session.client("sqs", endpoint_url=aws_url)
        for spec in self.stack.functions.values():
            for source in spec.sqs_sources:
                poller = SqsEventSourcePoller(
                    sqs=sqs,
                    queue_url=source.queue_url,
                    queue_arn=source.queue_arn,
                    region=REGION,
                    batch_size=source.batch_size,
                    report_batch_item_failures=source.report_batch_item_failures,
                    function=endpoints[spec.logical_id],
                )
                poller.start()
                self._pollers.append(poller)

        self.info = {
            "api_url": api_url,
            "inbound_sms_url": f"{api_url}/sms/inbound",
            "status_callback_url": f"{api_url}/sms/status",
            "aws_endpoint_url": aws_url,
            "region": REGION,
            "aws_access_key_id": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "twilio_api_url": self._fake.url,
            "twilio_account_sid": self.account_sid,
            "twilio_auth_token": self.auth_token,
            "line_number": options.line_number,
            "simulator_url": self._fake.simulator_url,
            "stack_name": options.stack_name,
            "user_pool_id": user_pool_id,
            "user_pool_client_id": user_pool_client_id,
            "demo_users": demo_users,
            "on_call_number": options.on_call_number,
            # The dashboard's live updates (the template's WebSocket API, emulated), and the management API
            # (POST /@connections/{id}) the functions push through.
            "socket_url": self._sockets[0].url if self._sockets else "",
            "socket_callback_url": self._sockets[0].callback_url if self._sockets else "",
            "resources": {
                logical_id: resource.physical_id
                for logical_id, resource in self.stack.resources.items()
                if resource.provisioned
            },
            "pid": os.getpid(),
        }
        self._start_dashboard(aws_url)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "local.json").write_text(json.dumps(self.info, indent=2) + "\n")

    def _start_dashboard(self, aws_url: str) -> None:
        """The dashboard's static files and runtime config, pointed at this line's API, socket and Cognito."""
        from peerline_local.dashboard_server import DashboardServer, dashboard_config

        config = dashboard_config(
            api_url=self.info["api_url"],
            region=REGION,
            user_pool_id=self.info["user_pool_id"],
            user_pool_client_id=self.info["user_pool_client_id"],
            socket_url=self.info.get("socket_url", ""),
            aws_endpoint_url=aws_url,
        )
        self._dashboard = DashboardServer(self.options.root / "dashboard", config, port=self.options.dashboard_port)
        self._dashboard.start()
        self.info["dashboard_url"] = self._dashboard.url

    # ------------------------------------------------------------------ WebSocket APIs
    def _bind_websocket_apis(self) -> None:
        """Each WebSocket API and its management API bound before the functions start, so that the template's
        wss://… and https://…/{stage} URLs in their environment can point at the ports they got instead."""
        assert self.stack is not None
        for index, api in enumerate(self.stack.websocket_apis.values()):
            emulator = WebSocketApiEmulator(
                {},
                stage=api.stage,
                api_id=api.api_id,
                route_selection_expression=api.route_selection_expression,
                port=self.options.socket_port if index == 0 else 0,
            )
            self._sockets.append(emulator)
            self._url_swaps[api.url] = emulator.url
            self._url_swaps[api.callback_url] = emulator.callback_url

    def _start_websocket_apis(self, endpoints: dict[str, FunctionEndpoint]) -> None:
        assert self.stack is not None
        for api, emulator in zip(self.stack.websocket_apis.values(), self._sockets, strict=True):
            emulator.route({route.route_key: endpoints[route.function_logical_id] for route in api.routes})
            emulator.start()

    def _swap_urls(self, environment: dict[str, str]) -> dict[str, str]:
        swapped = {}
        for name, value in environment.items():
            for template_url, local_url in self._url_swaps.items():
                value = value.replace(template_url, local_url)
            swapped[name] = value
        return swapped

    def _put_demo_on_call(self, session: boto3.session.Session, aws_url: str) -> None:
        """The demo on-call professional, whose phone is simulated by the Twilio fake like a texter's."""
        assert self.stack is not None
        from peerline.adapters.escalations import DynamoOnCallDirectory
        from peerline.adapters.kms import KmsNumberVault
        from peerline.adapters.secrets import secret_string
        from peerline_ops.oncall import OnCallAdmin

        pepper = secret_string(
            self.stack.physical_id("TexterIdPepperSecret"),
            secrets_client=session.client("secretsmanager", endpoint_url=aws_url),
        )
        OnCallAdmin(
            directory=DynamoOnCallDirectory(
                self.stack.physical_id("OnCallTable"), dynamodb_client=session.client("dynamodb", endpoint_url=aws_url)
            ),
            vault=KmsNumberVault(self.stack.physical_id("PhoneNumberKey"), session.client("kms", endpoint_url=aws_url)),
            pepper=pepper,
        ).add("Dr. Demo On-Call", self.options.on_call_number, 0)

    def _sign_up_demo_users(
        self, session: boto3.session.Session, aws_url: str, user_pool_id: str
    ) -> list[dict[str, str]]:
        """Volunteers to sign in as (through the same administration code operators use), certified for a year."""
        assert self.stack is not None
        admin = VolunteerAdmin(
            session.client("cognito-idp", endpoint_url=aws_url),
            user_pool_id,
            DynamoVolunteerRegistry(
                self.stack.physical_id("VolunteersTable"), session.client("dynamodb", endpoint_url=aws_url)
            ),
        )
        certified_until = date.today() + timedelta(days=365)
        for user in DEMO_USERS:
            admin.add(
                user.username,
                user.email,
                user.display_name,
                user.languages,
                certified_until,
                roles=user.roles,
                password=user.password,
            )
        return [
            {"username": user.username, "password": user.password, "role": user.role, "display_name": user.display_name}
            for user in DEMO_USERS
        ]

    def _let_demo_supervisors_skip_totp(
        self, session: boto3.session.Session, aws_url: str, user_pool_id: str, client_id: str
    ) -> None:
        """Supervisors need TOTP (the API checks the pool, as on AWS): the demo ones get it, and local Cognito
        answers their challenge, so `make dev` stays a password away from every view."""
        assert self._moto is not None
        cognito = session.client("cognito-idp", endpoint_url=aws_url)
        for user in DEMO_USERS:
            if "supervisor" in user.roles:
                set_up_totp(cognito, client_id, user.username, user.password)
                self._moto.totp.skip_totp_for(user_pool_id, user.username)

    def _function_environment(self, aws_url: str) -> dict[str, str]:
        assert self._fake is not None
        base = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "POWERTOOLS_"))}
        return {
            **base,
            **LOCAL_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": aws_url,
            "TWILIO_API_BASE_URL": self._fake.url,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_DEV": "false",
            "PYTHONUNBUFFERED": "1",
            **self.options.function_environment,
        }

    def _start_functions(self, environment: dict[str, str]) -> dict[str, FunctionEndpoint]:
        assert self.stack is not None
        specs = list(self.stack.functions.values())
        started: dict[str, _FunctionProcess] = {}
        errors: list[BaseException] = []

        def start_one(spec: FunctionSpec) -> None:
            try:
                env = {
                    **environment,
                    **self._swap_urls(spec.environment),
                    "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                }
                started[spec.logical_id] = _FunctionProcess(spec, env, self._sink)
            except BaseException as error:
                errors.append(error)

        # In parallel: each host pays its own import cost, like cold starts.
        threads = [threading.Thread(target=start_one, args=(spec,)) for spec in specs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self._functions = list(started.values())
        if errors:
            raise errors[0]
        return {
            logical_id: FunctionEndpoint(logical_id, process.url, requests.Session())
            for logical_id, process in started.items()
        }

    def _sink(self, function: str, line: str) -> None:
        if self.options.log_sink:
            self.options.log_sink(function, line)
            return
        with self._log_lock:
            print(f"[{function}] {line}", flush=True)

    def stop(self) -> None:
        for poller in self._pollers:
            poller.stop()
        self._pollers = []
        for socket in self._sockets:
            socket.stop()
        self._sockets = []
        if self._api:
            self._api.stop()
            self._api = None
        for function in self._functions:
            function.stop()
        self._functions = []
        if self._dashboard:
            self._dashboard.stop()
            self._dashboard = None
        if self._fake:
            self._fake.stop()
            self._fake = None
        if self._moto:
            self._moto.stop()
            self._moto = None

    # ------------------------------------------------------------------ for tests and tools
    @property
    def twilio_fake(self) -> TwilioFake:
        assert self._fake is not None, "the line is not running"
        return self._fake

    def __enter__(self) -> LocalLine:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
