"""Unit tests run the domain against in-memory fakes: any attempt to open a socket fails the test."""

from __future__ import annotations

import socket

import pytest

from .world import EngineWorld


class SocketOpenedError(AssertionError):
    pass


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise SocketOpenedError("unit tests must not open sockets")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def world() -> EngineWorld:
    return EngineWorld()
