"""The network of tests: loopback only. `Tripwire` makes every socket a test's HTTP client opens and refuses (and
records) any address outside 127.0.0.0/8; `NameTable` resolves the names a test gives, and nothing else (never
DNS)."""

import ipaddress
import socket

from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


class Tripwire:
    """The socket factory of every test client: loopback only. Anything else is recorded and refused."""

    def __init__(self) -> None:
        self.outside: list[str] = []
        self.connected: list[str] = []

    def __call__(self, addr_info: AddrInfoType) -> socket.socket:
        family, type_, proto, _, address = addr_info
        host = str(address[0])
        if ipaddress.ip_address(host.split("%")[0]) not in LOOPBACK:
            self.outside.append(host)
            raise OSError(f"TEST TRIPWIRE: attempted to connect to {host}")
        self.connected.append(host)
        return socket.socket(family=family, type=type_, proto=proto)


class NameTable(AbstractResolver):
    """A resolver the test controls: names to addresses, nothing else resolves."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            {
                "hostname": host,
                "host": ip,
                "port": port,
                "family": socket.AF_INET6 if ":" in ip else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for ip in self.names[host]
        ]

    async def close(self) -> None:
        pass
