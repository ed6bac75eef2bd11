"""Outbound address guard (SSRF) for every connector that opens a socket, and the pagers.

A connection may only reach public addresses unless its `allow_private` lists the
networks it may reach. The check runs where the socket is opened: the host is resolved
once, every answer is checked, and the connection is made to the checked address, so a
DNS answer that changes between check and use, or a redirect to another host, is checked
like the first request. `http` and `webhook` (and the pagers) open their sockets through
an httpcore network backend, `smtp` through `AddressGuard.connect`; TLS still verifies
the certificate against the host name, which is also the name sent as SNI.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

from orchestrator.errors import ConnectorError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Host and port to the addresses it resolves to (injectable for tests)."""

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
CONNECTION_HINT = "list it in the connection's allow_private to allow it"


class AddressRefused(ConnectorError):
    """The connection tried to reach an address it is not allowed to."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answers for `host`, in its order, without repeats."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def networks(allowed: Iterable[str]) -> tuple[Network, ...]:
    """Parse an `allow_private` list; a `ValueError` names the bad entry."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allowed)


def embedded(address: Address) -> Address:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address, else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None:
            return inner
    return address


def why_refused(address: Address) -> str:
    """Why `address` is not public, or "" when it is."""
    for candidate in {address, embedded(address)}:
        for test, what in _KINDS:
            if test(candidate):
                return what
    return ""


_KINDS: tuple[tuple[Callable[[Any], bool], str], ...] = (
    (lambda a: a.is_unspecified, "an unspecified address"),
    (lambda a: a.is_loopback, "a loopback address"),
    (lambda a: a.is_link_local, "a link-local or cloud metadata address"),
    (lambda a: a.is_multicast, "a multicast address"),
    (lambda a: a.is_private, "a private address"),
    (lambda a: not a.is_global, "a non-public address"),
)


class AddressGuard:
    """Decides, for one connection, which addresses it may connect to."""

    def __init__(
        self,
        connection: str,
        allowed: Iterable[str],
        resolver: Resolver | None = None,
        *,
        hint: str = CONNECTION_HINT,
    ) -> None:
        self.connection = connection
        self.allowed = networks(allowed)
        self.resolve = resolver or system_resolver
        self.hint = hint
        """How to allow a refused address, ending every refusal."""

    def refusal(self, address: Address) -> str:
        """Why connecting to `address` is refused, or "" when it is allowed."""
        if any(
            a in net
            for a in {address, embedded(address)}
            for net in self.allowed
            if a.version == net.version
        ):
            return ""
        return why_refused(address)

    async def pick(self, host: str, port: int) -> str:
        """The address to connect to for `host`; refused if any answer is not allowed."""
        try:
            answers = [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            answers = [
                ipaddress.ip_address(a.split("%")[0]) for a in await self._lookup(host, port)
            ]
        for address in answers:
            why = self.refusal(address)
            if why:
                raise AddressRefused(
                    self.connection,
                    f"refused to connect to {host} ({address} is {why}); {self.hint}",
                )
        return str(answers[0])

    async def connect(self, host: str, port: int, timeout: float) -> socket.socket:
        """A non-blocking TCP socket connected to the address `pick` chose for `host`.

        For clients that take a connected socket (aiosmtplib): they keep `host` for TLS.
        """
        address = await self.pick(host, port)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            opening = asyncio.get_running_loop().sock_connect(sock, (address, port))
            await asyncio.wait_for(opening, timeout)
        except BaseException:
            sock.close()
            raise
        return sock

    async def _lookup(self, host: str, port: int) -> list[str]:
        try:
            answers = await self.resolve(host, port)
        except OSError as error:
            raise ConnectorError(
                self.connection, f"cannot resolve {host}: {error}", transient=True
            ) from None
        if not answers:
            raise ConnectorError(self.connection, f"{host} has no address", transient=True)
        return answers


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's asyncio backend, connecting only to addresses the guard picked."""

    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self.guard.pick(host, port)
        return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused(self.guard.connection, "unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool that opens sockets through the guard."""

    def __init__(self, guard: AddressGuard, *, retries: int) -> None:
        super().__init__(retries=retries)
        # httpx takes no network backend, so its pool is rebuilt with one (same defaults).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            retries=retries,
            network_backend=GuardedBackend(guard),
        )
