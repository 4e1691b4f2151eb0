"""Where webhooks may go: https only, and never into the operator's own network (no SSRF).

A site admin chooses the webhook URL, so without a guard the service would post (and report the
outcome of posting) to any address it can reach: ``127.0.0.1:6379``, a cloud metadata endpoint, a
router on ``192.168.0.1``. The guard refuses every address that is not globally routable —
loopback, link-local, private, unique-local, CGNAT (100.64.0.0/10), unspecified, multicast,
reserved and documentation ranges, and IPv4 addresses inside IPv6 (mapped, NAT64, 6to4) — unless
the operator allows a network explicitly (``MODERATION_WEBHOOK_ALLOW_NETWORKS``).

It checks twice: when the URL is registered (a literal address, or a name that resolves to a
refused address, is a ``422`` naming ``url``) and at every delivery, where ``GuardedResolver`` is
the HTTP client's resolver: the name is resolved afresh, every answer checked, and the connection
made to exactly the addresses that were checked, so a name re-pointed after registration (DNS
rebinding) reaches nothing inside.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from .errors import ValidationFailed
from .validation import text_problem

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2000
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedAddress(OSError):
    """A webhook host resolved to an address the service will not connect to."""


@dataclass(frozen=True)
class TargetPolicy:
    """What the operator allows: plain http (tests, a receiver on the same host) and inside networks."""

    allow_http: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be called (a range name), or None if it may."""
        # An IPv4 address inside IPv6 (mapped, NAT64, 6to4) is judged as the IPv4 address it reaches.
        candidate = _embedded_ipv4(address) or address
        if any(candidate.version == net.version and candidate in net for net in self.allowed_networks):
            return None
        return _range_name(candidate)


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``"127.0.0.0/8, ::1/128"`` → networks; ValueError names the bad entry."""
    networks = []
    for part in text.split(","):
        part = part.strip()
        if part:
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"not a network: {part!r}") from None
    return tuple(networks)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _range_name(address: IPAddress) -> str | None:
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if isinstance(address, ipaddress.IPv4Address) and address in CGNAT:
        return "shared (CGNAT)"
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("fc00::/7"):
        return "unique-local"
    if address.is_private:
        return "private"
    if address.is_multicast or address.is_reserved or not address.is_global:
        return "not globally routable"
    return None


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _invalid(code: str, message: str) -> ValidationFailed:
    return ValidationFailed("The webhook URL is not allowed." if code == "refused_address" else
                            "The webhook URL is not valid.", code="invalid_webhook",
                            fields={"url": [{"code": code, "message": message}]})


def check_url_shape(url: Any, policy: TargetPolicy) -> str:
    """The URL, stripped, if its scheme and form are acceptable (no DNS); else a 422 naming ``url``."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationFailed("A webhook URL is required.", code="invalid_webhook",
                               fields={"url": [{"code": "required", "message": "Give an https URL."}]})
    url = url.strip()
    if text_problem(url):  # a lone surrogate or a control character cannot be part of a URL we call
        raise _invalid("invalid_characters", "Give an https URL.")
    parts = urlsplit(url)
    schemes = ("http", "https") if policy.allow_http else ("https",)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL_LENGTH:
        raise _invalid("invalid", "Give an https URL.")
    if parts.scheme not in schemes:
        raise _invalid("https_required", "Webhooks are sent over https only.")
    try:
        parts.port  # noqa: B018  (urlsplit checks the port only when it is read)
    except ValueError:
        raise _invalid("invalid", "The port is not a number between 0 and 65535.") from None
    literal = _literal_address(parts.hostname)
    if literal is not None and (reason := policy.refusal(literal)) is not None:
        raise _invalid("refused_address", f"Webhooks cannot go to a {reason} address.")
    if parts.hostname.rstrip(".").lower() in ("localhost",) or parts.hostname.endswith(".localhost"):
        raise _invalid("refused_address", "Webhooks cannot go to a loopback address.")
    return url


async def check_url(url: Any, policy: TargetPolicy, resolver: AbstractResolver | None = None) -> str:
    """``check_url_shape`` plus the name resolved now: any refused address is a 422 naming ``url``.

    A name that does not resolve yet is accepted (delivery resolves and checks it again each time).
    """
    url = check_url_shape(url, policy)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if _literal_address(host) is not None:
        return url
    resolver = resolver or ThreadedResolver()
    try:
        answers = await resolver.resolve(host, parts.port or 443, family=socket.AF_UNSPEC)
    except OSError:
        return url
    for answer in answers:
        reason = policy.refusal(ipaddress.ip_address(answer["host"]))
        if reason is not None:
            raise _invalid("refused_address", f"The host resolves to a {reason} address.")
    return url


class GuardedResolver(AbstractResolver):
    """The webhook client's resolver: resolves each time, refuses the whole name if any answer is refused."""

    def __init__(self, policy: TargetPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
                      ) -> list[ResolveResult]:
        answers = await self.inner.resolve(host, port, family)
        for answer in answers:
            reason = self.policy.refusal(ipaddress.ip_address(answer["host"]))
            if reason is not None:
                raise RefusedAddress(f"{host} resolves to a {reason} address")
        return answers

    async def close(self) -> None:
        await self.inner.close()


def check_literal_at_delivery(url: str, policy: TargetPolicy) -> None:
    """aiohttp does not consult the resolver for a literal address, so check that one here."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not policy.allow_http:
        raise RefusedAddress("webhooks are sent over https only")
    literal = _literal_address(parts.hostname or "")
    if literal is not None and (reason := policy.refusal(literal)) is not None:
        raise RefusedAddress(f"a {reason} address")
