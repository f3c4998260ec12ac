"""The suite itself: no test can reach the internet."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NetworkAccessError


def test_resolving_a_public_host_fails_loudly() -> None:
    """Looking up a public name raises instead of touching DNS."""
    with pytest.raises(NetworkAccessError, match=r"example\.org"):
        socket.getaddrinfo("example.org", 443)


def test_connecting_to_a_public_address_fails_loudly() -> None:
    """A raw connection to a public address raises before any packet leaves."""
    with socket.socket() as sock, pytest.raises(NetworkAccessError, match=r"only 127\.0\.0\.1"):
        sock.connect(("93.184.215.14", 80))


def test_loopback_stays_usable() -> None:
    """Loopback servers, which the fakes use, remain reachable."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
