"""Webhook URLs: their syntax, and the rule that they lead to public internet addresses only.

The rule is checked on the addresses the URL's host resolves to, when a webhook is created
or its URL changed, and again at each delivery attempt, which then connects to one of the
addresses it checked (leads/webhooks/sender.py): a name that resolves to a public address
when checked cannot send the attempt to a private one afterwards (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = ("https", "http")
# A host name's labels: letters, digits, hyphens (and underscores, which some real host
# names carry), 1 to 63 each, 253 characters in all. The last label is not all digits:
# `127.1` or `2130706433` are IPv4 addresses to the resolver, not names.
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_MAX_HOST_NAME = 253
# Addresses that carry an IPv4 address in them, which is checked in their stead.
_NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
# The local-use NAT64 prefix (RFC 8215): whatever it translates to is someone's network.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")

NOT_PUBLIC = (
    "Must resolve to public internet addresses only, not to loopback, private, link-local, "
    "multicast or other special-use addresses."
)


class InvalidWebhookUrl(ValueError):
    """The text is not a URL a webhook can have (the message says why)."""


class RefusedAddress(ValueError):
    """The URL's host does not resolve, or resolves to an address webhooks may not reach."""


@dataclass(frozen=True)
class WebhookTarget:
    url: httpx.URL
    # The host as the resolver takes it: a name in ASCII (IDNA), or an IP address.
    host: str
    port: int
    address: IPAddress | None  # when the host is an IP address

    @property
    def host_header(self) -> str:
        """The Host header: the URL's host, and its port unless it is the scheme's own."""
        return self.url.netloc.decode("ascii")


def parse_webhook_url(text: str) -> WebhookTarget:
    """The target of a webhook URL, or InvalidWebhookUrl."""
    if any(character.isspace() or not character.isprintable() for character in text):
        raise InvalidWebhookUrl("Must not contain spaces or control characters.")
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        raise InvalidWebhookUrl("Not a valid URL.") from None
    if url.scheme not in SCHEMES or not text.lower().startswith(f"{url.scheme}://"):
        raise InvalidWebhookUrl("Must be an https or http URL.")
    if url.userinfo:
        raise InvalidWebhookUrl("Must not hold a user name or password.")
    port = url.port if url.port is not None else (443 if url.scheme == "https" else 80)
    if not 1 <= port <= 65535:
        raise InvalidWebhookUrl("Must have a port from 1 to 65535.")
    host = url.raw_host.decode("ascii").lower()
    if not host:
        raise InvalidWebhookUrl("Must name a host.")
    address = _ip_address(host.strip("[]"))
    if address is None and not _is_host_name(host):
        raise InvalidWebhookUrl("Must have a host name or an IP address as its host.")
    return WebhookTarget(url=url, host=host.strip("[]"), port=port, address=address)


def is_public_address(address: IPAddress) -> bool:
    """Whether an address is on the public internet: not loopback, private, link-local,
    multicast, reserved, shared, documentation or any other special-use range (Python's
    `is_global`, which counts multicast as global). An address that embeds an IPv4 address
    (IPv4-mapped, 6to4, NAT64) is judged by that address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:
            return False
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64_PREFIX:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not address.is_multicast


def resolve_target(target: WebhookTarget, *, allow_private: bool) -> list[IPAddress]:
    """Every address the target's host resolves to, in the resolver's order, all of them
    public unless `allow_private`; else RefusedAddress.

    One message for a name that does not resolve and one that resolves to a private
    address: which it is would tell a client what names the service's network knows.
    """
    if target.address is not None:
        addresses = [target.address]
    else:
        try:
            found = socket.getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except (OSError, UnicodeError):
            raise RefusedAddress(_unresolved(allow_private)) from None
        addresses = list(dict.fromkeys(_ip_address(info[4][0]) for info in found))
        addresses = [address for address in addresses if address is not None]
        if not addresses:
            raise RefusedAddress(_unresolved(allow_private))
    if not allow_private and not all(is_public_address(address) for address in addresses):
        raise RefusedAddress(NOT_PUBLIC)
    return addresses


def _unresolved(allow_private: bool) -> str:
    return "The host does not resolve." if allow_private else NOT_PUBLIC


def _ip_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_host_name(host: str) -> bool:
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    return (
        len(name) <= _MAX_HOST_NAME
        and all(_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )
