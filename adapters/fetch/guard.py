"""The SSRF guard: which addresses the bot may connect to when it fetches a URL someone gave it.

Three checks, each on exactly the address the connection will use:

- a literal address in a URL is checked before anything is sent (`AddressGuard.check_host`);
- a name is resolved by `GuardedResolver`, which refuses when ANY address it resolves to is forbidden, and hands
  the connector exactly the addresses it checked (the connection never resolves again, so a name cannot rebind
  between the check and the connect);
- every socket the connector opens is checked once more (`AddressGuard.check_connect`), as a backstop should a
  future aiohttp reach the network some other way.

Forbidden: loopback, private, link-local, multicast, unspecified, reserved, unique-local and site-local addresses,
anything else not globally routable, and IPv6 addresses that embed such an IPv4 address (IPv4-mapped, NAT64, 6to4,
Teredo). `FETCH_ALLOW_HOSTS` lifts the rule for the names, addresses or networks it lists (tests and the demo).
"""

import ipaddress
import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class Refused(OSError):
    """A URL the bot will not fetch. `str()` is a plain reason: "points to a private address (10.0.0.5)".

    An OSError so that aiohttp, which wraps the OSErrors of resolving and connecting, keeps it as the cause.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address | None, bool]:
    """The IPv4 address `ip` stands for, and whether that address alone decides (mapped and NAT64 addresses
    are that IPv4 address; 6to4 and Teredo ones also have to be acceptable IPv6 addresses)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, True
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), True
    if ip.sixtofour is not None:
        return ip.sixtofour, False
    if ip.teredo is not None:
        return ip.teredo[1], False
    return None, False


def address_problem(ip: IPAddress) -> str | None:
    """What kind of address `ip` is when the bot must not connect to it ("a private address"), else None."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded, decides = _embedded_ipv4(ip)
        if embedded is not None:
            problem = address_problem(embedded)
            if problem or decides:
                return problem
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _UNIQUE_LOCAL:
            return "a unique-local address"
        if ip.is_site_local:
            return "a site-local address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "a non-public address"
    return None


def parse_address(text: str) -> IPAddress | None:
    """`text` as an IP address (brackets and an IPv6 zone allowed), or None when it is not one."""
    candidate = text.strip().removeprefix("[").removesuffix("]").replace("%25", "%")
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def _looks_numeric(host: str) -> bool:
    """What aiohttp and the C library would take for an address rather than a name: digits and dots
    (including the legacy forms `127.1`, `2130706433`, `0x7f.1`) or anything with a colon."""
    if ":" in host:
        return True
    labels = host.rstrip(".").split(".")
    return all(label.isdigit() or label.lower().startswith("0x") for label in labels if label)


def normalise_host(host: str) -> str:
    return host.strip().rstrip(".").lower()


class AddressGuard:
    """The address rule with its allow-list (`FETCH_ALLOW_HOSTS`: names, addresses or networks)."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self._networks: list[IPNetwork] = []
        self._names: set[str] = set()
        for entry in allow:
            entry = entry.strip()
            if not entry:
                continue
            try:
                self._networks.append(ipaddress.ip_network(entry.removeprefix("[").removesuffix("]"), strict=False))
            except ValueError:
                self._names.add(normalise_host(entry))
        # Addresses an allowed name resolved to, so that the socket-level backstop lets them through too.
        self._vouched: set[IPAddress] = set()

    def name_allowed(self, host: str) -> bool:
        return normalise_host(host) in self._names

    def address_allowed(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self._networks)

    def check_address(self, ip: IPAddress) -> None:
        """Raise Refused unless the bot may connect to `ip`."""
        if self.address_allowed(ip):
            return
        problem = address_problem(ip)
        if problem:
            raise Refused(f"points to {problem} ({ip})")

    def check_host(self, host: str) -> None:
        """Check a URL's host before anything is sent: a literal address now; a name is left to the resolver.

        Numeric hosts that are not a plain address (`127.1`, `2130706433`, `0x7f000001`) are refused outright:
        the C library would read them as an address, and what they mean is ambiguous."""
        if self.name_allowed(host):
            return
        ip = parse_address(host)
        if ip is not None:
            self.check_address(ip)
        elif _looks_numeric(host):
            raise Refused(f"is not a valid address ({host})")

    def check_resolved(self, host: str, addresses: Iterable[str]) -> None:
        """Refuse a name when any address it resolved to is forbidden (an attacker's DNS may mix them)."""
        parsed = []
        for text in addresses:
            ip = parse_address(text)
            if ip is None:
                raise Refused(f"resolved to something that is not an address ({text})")
            parsed.append(ip)
        if not parsed:
            raise Refused(f"has no address ({host})")
        if self.name_allowed(host):
            self._vouched.update(parsed)
            return
        for ip in parsed:
            self.check_address(ip)

    def check_connect(self, address: str) -> None:
        """The backstop, for the address a socket is about to connect to."""
        ip = parse_address(address)
        if ip is None:
            raise Refused(f"is not a valid address ({address})")
        if ip not in self._vouched:
            self.check_address(ip)


class GuardedResolver(AbstractResolver):
    """Resolves through `inner` (aiohttp's default resolver unless given) and refuses forbidden addresses."""

    def __init__(self, guard: AddressGuard, inner: AbstractResolver | None = None) -> None:
        self._guard = guard
        self._inner = inner
        self._owns_inner = inner is None

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = DefaultResolver()  # made here: it wants the running loop
        results = await self._inner.resolve(host, port, family)
        self._guard.check_resolved(host, [result["host"] for result in results])
        return results

    async def close(self) -> None:
        if self._owns_inner and self._inner is not None:
            inner, self._inner = self._inner, None
            await inner.close()
