"""Client addresses and allowed networks, compared the same way everywhere.

A dual-stack server socket reports an IPv4 client as an IPv4-mapped IPv6 address
(``::ffff:10.0.0.5``); a rule written as ``10.0.0.0/8`` must still match it, and a rule
written as ``::ffff:10.0.0.0/104`` must match a client reported as ``10.0.0.5``.  Both
sides are therefore reduced to plain IPv4 whenever they denote IPv4 addresses.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def parse_address(value: str | None) -> IPAddress | None:
    """The address, with an IPv4-mapped IPv6 address turned into its IPv4 address; None if unparseable."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def normalise_address(value: str | None) -> str | None:
    """The canonical text of an address (unmapped), or the input unchanged when it is not an address."""
    address = parse_address(value)
    return str(address) if address is not None else value


def parse_network(value: str) -> IPNetwork:
    """A network (host bits allowed); an IPv6 network inside ``::ffff:0:0/96`` becomes the IPv4 network it maps.

    Raises ValueError for anything that is not a network.
    """
    network = ipaddress.ip_network(str(value).strip(), strict=False)
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= _MAPPED.prefixlen \
            and network.subnet_of(_MAPPED):
        base = int(network.network_address) - int(_MAPPED.network_address)
        return ipaddress.IPv4Network((base, network.prefixlen - _MAPPED.prefixlen))
    return network


def address_in_networks(value: str | None, networks: list[str]) -> bool:
    """Whether the address lies in any of the networks (unparseable networks never match)."""
    address = parse_address(value)
    if address is None:
        return False
    for text in networks:
        try:
            network = parse_network(text)
        except ValueError:
            continue
        if address.version == network.version and address in network:
            return True
    return False
