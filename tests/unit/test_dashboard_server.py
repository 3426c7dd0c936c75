"""The dashboard's static server: content types, /config.json, no listings, no way out of the root.

Requests are fed to the handler through an in-memory connection (unit tests open no sockets); the real
dashboard folder is also checked for what the page needs (every module it imports exists, no innerHTML).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from peerline_local.dashboard_server import (
    CONFIG_KEYS,
    CONFIG_LIST_KEYS,
    DashboardServer,
    _handler_for,
    dashboard_config,
)

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "dashboard"

CONFIG = dashboard_config(
    api_url="http://127.0.0.1:3000/",
    region="us-east-1",
    user_pool_id="us-east-1_pool",
    user_pool_client_id="client123",
    socket_url="ws://127.0.0.1:3001/live",
    aws_endpoint_url="http://127.0.0.1:4566",
    session_outcomes=["supported", "other"],
    session_tags=["anxiety", "school"],
)


class _Connection:
    """Just enough of a socket for StreamRequestHandler: a request to read, a buffer for the answer."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.sent = bytearray()

    def makefile(self, mode: str, *args: object, **kwargs: object) -> object:
        import io

        return io.BytesIO(self.raw)

    def sendall(self, data: bytes) -> None:
        self.sent.extend(data)

    def settimeout(self, value: object) -> None:
        return None

    def setsockopt(self, *args: object) -> None:
        return None


class Answer:
    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines[1:])}

    def json(self) -> dict[str, str]:
        return json.loads(self.body)


def ask(site: DashboardServer, path: str, method: str = "GET") -> Answer:
    connection = _Connection(f"{method} {path} HTTP/1.1\r\nHost: dashboard\r\n\r\n".encode())
    _handler_for(site)(connection, ("127.0.0.1", 50000), None)  # type: ignore[arg-type]
    return Answer(bytes(connection.sent))


@pytest.fixture
def site(tmp_path: Path) -> DashboardServer:
    root = tmp_path / "site"
    (root / "lib").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "index.html").write_text("<!doctype html><title>t</title>")
    (root / "app.js").write_text("export const x = 1;")
    (root / "styles.css").write_text("body{}")
    (root / "lib" / "dom.js").write_text("export {};")
    (root / "notes.py").write_text("secret = 1")
    (root / ".env").write_text("SECRET=1")
    (tmp_path / "secret.txt").write_text("outside")
    (root / "escape.js").symlink_to(tmp_path / "secret.txt")
    return DashboardServer(root, CONFIG)


def test_index_at_the_root_with_a_content_security_policy(site: DashboardServer) -> None:
    answer = ask(site, "/")
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.body.startswith(b"<!doctype html>")
    policy = answer.headers["content-security-policy"]
    connect = re.search(r"connect-src ([^;]+)", policy)
    assert connect is not None
    assert set(connect.group(1).split()) == {
        "'self'",
        "http://127.0.0.1:3000",
        "http://127.0.0.1:4566",
        "ws://127.0.0.1:3001",
    }
    assert "script-src 'self'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/index.html", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/lib/dom.js", "text/javascript; charset=utf-8"),
        ("/styles.css", "text/css; charset=utf-8"),
        ("/app.js?v=2", "text/javascript; charset=utf-8"),
    ],
)
def test_files_are_served_with_their_content_type(site: DashboardServer, path: str, content_type: str) -> None:
    answer = ask(site, path)
    assert answer.status == 200
    assert answer.headers["content-type"] == content_type
    assert "content-security-policy" not in answer.headers or content_type.startswith("text/html")


def test_config_json_is_the_runtime_config(site: DashboardServer) -> None:
    answer = ask(site, "/config.json")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "apiUrl": "http://127.0.0.1:3000",
        "socketUrl": "ws://127.0.0.1:3001/live",
        "region": "us-east-1",
        "userPoolId": "us-east-1_pool",
        "userPoolClientId": "client123",
        "cognitoEndpoint": "http://127.0.0.1:4566",
        "sessionOutcomes": ["supported", "other"],
        "sessionTags": ["anxiety", "school"],
    }
    assert tuple(answer.json()) == CONFIG_KEYS + CONFIG_LIST_KEYS


def test_config_is_read_per_request_and_defaults_to_aws_cognito(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>")
    config: dict[str, str] = {"apiUrl": "https://api.example.org", "region": "eu-west-1", "userPoolClientId": "c"}
    site = DashboardServer(tmp_path, config)
    first = ask(site, "/config.json").json()
    assert first["cognitoEndpoint"] == "https://cognito-idp.eu-west-1.amazonaws.com/"
    assert first["socketUrl"] == ""
    config["socketUrl"] = "wss://live.example.org/prod"  # filled in once the live channel is up
    assert ask(site, "/config.json").json()["socketUrl"] == "wss://live.example.org/prod"


def test_dashboard_config_without_a_local_endpoint_points_at_aws() -> None:
    config = dashboard_config(api_url="https://x/", region="us-west-2", user_pool_id="p", user_pool_client_id="c")
    assert config["cognitoEndpoint"] == "https://cognito-idp.us-west-2.amazonaws.com/"
    assert config["apiUrl"] == "https://x"


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/lib/../../secret.txt",
        "/..%2fsecret.txt",
        "/lib%2f..%2f..%2fsecret.txt",
        "/%2e%2e%5csecret.txt",
        "/escape.js",  # a symlink pointing out of the root
        "/.env",
        "/lib/.%2e/.env",
        "/notes.py",  # not a type the dashboard serves
        "/empty/",  # a directory: no listing
        "/empty",
        "/lib/",
        "/missing.js",
        "/index.html%00.js",
    ],
)
def test_nothing_outside_hidden_or_listed(site: DashboardServer, path: str) -> None:
    answer = ask(site, path)
    assert answer.status == 404
    assert b"outside" not in answer.body
    assert b"SECRET" not in answer.body


def test_head_has_headers_only_and_other_methods_are_refused(site: DashboardServer) -> None:
    head = ask(site, "/app.js", method="HEAD")
    assert head.status == 200
    assert head.headers["content-length"] == str(len("export const x = 1;"))
    assert head.body == b""
    post = ask(site, "/config.json", method="POST")
    assert post.status == 405
    assert post.headers["allow"] == "GET, HEAD"


def test_a_root_without_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        DashboardServer(tmp_path, CONFIG)


def test_start_and_stop_on_a_free_port() -> None:
    server = DashboardServer(DASHBOARD, CONFIG, port=0)
    with pytest.raises(RuntimeError):
        _ = server.url
    with server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert server.url != "http://127.0.0.1:0"
    with pytest.raises(RuntimeError):
        _ = server.url


# ---------------------------------------------------------------------- the dashboard folder itself
def test_every_module_the_dashboard_imports_exists_and_is_served() -> None:
    site = DashboardServer(DASHBOARD, CONFIG)
    index = (DASHBOARD / "index.html").read_text()
    referenced = re.findall(r'(?:src|href)="([^":#]+)"', index)
    assert "app.js" in referenced
    assert "styles.css" in referenced
    modules = sorted(DASHBOARD.glob("*.js"))
    for module in modules:
        for target in re.findall(r'from\s+"(\./[^"]+)"', module.read_text()):
            assert (DASHBOARD / target).is_file(), f"{module.name} imports missing {target}"
    for name in [*referenced, *(m.name for m in modules)]:
        assert ask(site, f"/{name}").status == 200, name


def test_the_dashboard_never_writes_html_from_strings() -> None:
    for module in DASHBOARD.glob("*.js"):
        source = module.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{module.name} uses {sink}"


@pytest.mark.parametrize(
    "name",
    [
        "Username or e-mail",
        "Password",
        "Sign in",
        "Sign out",
        "Availability",
        "Available",
        "Away",
        "Offline",
        "Sound for new offers",
        "Take next",
        "The line at a glance",
        "Manage library",
    ],
)
def test_the_accessible_names_of_the_page_shell(name: str) -> None:
    assert f">{name}<" in (DASHBOARD / "index.html").read_text().replace("> ", ">")


@pytest.mark.parametrize(
    "name",
    [
        '"New password"',
        '"Set password"',
        '"New conversation offered"',
        '"Accept"',
        '"Decline"',
        '"Transcript"',
        '"Reply"',
        '"Send"',
        '"Canned responses"',
        '"Insert"',
        '"Escalate"',
        '"Transfer"',
        '"Close conversation"',
        '"Outcome"',
        '"Tags"',
        '"Close and wrap up"',
        '"Acknowledge"',
        '"Reveal number"',
        '"Reason"',
        '"unread"',
    ],
)
def test_the_accessible_names_built_by_the_modules(name: str) -> None:
    sources = "".join(module.read_text() for module in DASHBOARD.glob("*.js"))
    assert name in sources
