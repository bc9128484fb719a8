"""Broker export for Apache Guacamole: who reaches which desktops.

Two forms:

* :func:`token` — the encrypted JSON of the ``guacamole-auth-json`` extension: a JSON object with
  ``username``, ``expires`` (milliseconds since the epoch) and ``connections`` (name -> ``protocol`` and
  ``parameters``), signed with HMAC-SHA256 under the shared 128-bit key, the 32-byte signature prepended
  to the JSON, the whole encrypted with AES-128-CBC under the same key with an all-zero IV (PKCS#7
  padding), then base64.  Guacamole checks the signature and the expiry and lets the user in to exactly
  those connections.  The key is never stored: ``settings.VDI_GUACAMOLE_KEY`` is a secret *reference*
  (``env:CMDB_GUACAMOLE_KEY``, ``file:/run/secrets/guacamole-key``; 32 hexadecimal digits).
* :func:`user_mapping_xml` — ``user-mapping.xml`` of Guacamole's default authentication, for a test set-up.

A user's connections are their desktops (assigned or in use by them) and, for each pool one of their
groups is entitled to where they have none yet, a ready desktop of that pool.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import xml.etree.ElementTree as ET
from typing import Any

from cmdb.core.secrets import SecretPolicy, resolve

from .models import Desktop, DesktopState, Pool

KEY_POLICY = SecretPolicy("the Guacamole JSON secret key", schemes=("env", "file"), name_must_contain="GUACAMOLE")
RDP_PORT = "3389"


def key_bytes(key_hex: str) -> bytes:
    try:
        key = bytes.fromhex(key_hex.strip())
    except ValueError as exc:
        raise ValueError("The Guacamole key must be 32 hexadecimal digits.") from exc
    if len(key) != 16:
        raise ValueError("The Guacamole key must be 128 bits (32 hexadecimal digits).")
    return key


def configured_key() -> bytes:
    from django.conf import settings

    return key_bytes(resolve(getattr(settings, "VDI_GUACAMOLE_KEY", "env:CMDB_GUACAMOLE_KEY"), KEY_POLICY))


def _connection(desktop_name: str, address: str) -> dict[str, Any]:
    return {"protocol": "rdp", "parameters": {"hostname": address or desktop_name, "port": RDP_PORT}}


def connections_for(user: Any) -> dict[str, dict[str, Any]]:
    """Connection name -> Guacamole connection, for the desktops ``user`` may reach (a few queries)."""
    out: dict[str, dict[str, Any]] = {}
    mine = Desktop.objects.filter(assigned_user=user, state__in=(DesktopState.ASSIGNED, DesktopState.IN_USE,
                                                                 DesktopState.READY))
    have_pools = set()
    for name, address, pool_id in mine.values_list("name", "address", "pool_id"):
        out[name] = _connection(name, address)
        have_pools.add(pool_id)
    groups = set(user.groups.values_list("name", flat=True))
    entitled = [pk for pk, wanted in Pool.objects.values_list("pk", "entitled_groups")
                if pk not in have_pools and groups & set(wanted or [])]
    if entitled:
        ready = Desktop.objects.filter(pool_id__in=entitled, state=DesktopState.READY,
                                       assigned_user__isnull=True).order_by("pool_id", "name")
        seen = set()
        for name, address, pool_id in ready.values_list("name", "address", "pool_id"):
            if pool_id not in seen:
                seen.add(pool_id)
                out[name] = _connection(name, address)
    return out


def payload(user: Any, *, ttl_seconds: int = 300, now: float | None = None) -> dict[str, Any]:
    expires = int(((now if now is not None else time.time()) + ttl_seconds) * 1000)
    return {"username": user.get_username(), "expires": expires, "connections": connections_for(user)}


def encrypt(data: dict[str, Any], key: bytes) -> str:
    """Sign, encrypt and base64-encode ``data`` the way guacamole-auth-json reads it."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    body = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    signed = hmac.new(key, body, hashlib.sha256).digest() + body
    padder = padding.PKCS7(128).padder()
    plain = padder.update(signed) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def token(user: Any, *, key: bytes | None = None, ttl_seconds: int = 300, now: float | None = None) -> str:
    """The encrypted JSON for ``user`` (POSTed to Guacamole's ``/api/tokens`` as ``data``)."""
    return encrypt(payload(user, ttl_seconds=ttl_seconds, now=now), key or configured_key())


def user_mapping_xml(passwords: dict[str, str]) -> str:
    """``user-mapping.xml`` for the users in ``passwords`` (user name -> password, stored as SHA-256)."""
    from django.contrib.auth import get_user_model

    root = ET.Element("user-mapping")
    for user in get_user_model().objects.filter(username__in=list(passwords)).order_by("username"):
        auth = ET.SubElement(root, "authorize", username=user.get_username(), encoding="sha256",
                             password=hashlib.sha256(passwords[user.get_username()].encode()).hexdigest())
        for name, conn in sorted(connections_for(user).items()):
            c = ET.SubElement(auth, "connection", name=name)
            ET.SubElement(c, "protocol").text = conn["protocol"]
            for key, value in conn["parameters"].items():
                ET.SubElement(c, "param", name=key).text = value
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"
