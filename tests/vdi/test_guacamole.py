"""The Guacamole export: the encrypted JSON decrypts, with the documented algorithm implemented here
independently (AES-128-CBC, zero IV, then HMAC-SHA256 over the JSON checked), to the expected object."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.contrib.auth.models import Group, User

from vdi import guacamole
from vdi.models import Desktop

from .conftest import make_pool

pytestmark = pytest.mark.django_db
KEY_HEX = "4c0b569e4c96df157eee1b65dd0e4d41"


def decrypt(token: str, key_hex: str) -> dict:
    """What guacamole-auth-json does with ``data``: base64, AES-128-CBC (IV 0), strip padding, check the
    32-byte HMAC-SHA256 signature in front of the JSON."""
    key = bytes.fromhex(key_hex)
    raw = base64.b64decode(token, validate=True)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(b"\0" * 16)).decryptor()
    plain = decryptor.update(raw) + decryptor.finalize()
    pad = plain[-1]
    assert 1 <= pad <= 16 and plain[-pad:] == bytes([pad]) * pad
    plain = plain[:-pad]
    signature, body = plain[:32], plain[32:]
    assert hmac.compare_digest(signature, hmac.new(key, body, hashlib.sha256).digest())
    return json.loads(body)


@pytest.fixture
def desktops(vdi_world):
    lab = make_pool(vdi_world, "lab", entitled_groups=["students"])
    cad = make_pool(vdi_world, "cad", pool_type="persistent", entitled_groups=["staff"])
    alice = User.objects.create(username="alice")
    alice.groups.add(Group.objects.create(name="students"))
    Desktop(name="lab-002", pool=lab, state="ready", address="10.0.0.2").save()
    Desktop(name="lab-001", pool=lab, state="ready", address="10.0.0.1").save()
    Desktop(name="cad-001", pool=cad, state="assigned", assigned_user=alice, address="10.0.1.1").save()
    Desktop(name="cad-002", pool=cad, state="ready", address="10.0.1.2").save()
    return alice


def test_the_token_decrypts_to_the_users_desktops(desktops):
    token = guacamole.token(desktops, key=bytes.fromhex(KEY_HEX), ttl_seconds=300, now=1_800_000_000)
    assert decrypt(token, KEY_HEX) == {
        "username": "alice",
        "expires": 1_800_000_300_000,
        "connections": {
            "cad-001": {"protocol": "rdp", "parameters": {"hostname": "10.0.1.1", "port": "3389"}},
            "lab-001": {"protocol": "rdp", "parameters": {"hostname": "10.0.0.1", "port": "3389"}},
        },
    }
    with pytest.raises(AssertionError):
        decrypt(token, "00" * 16)


def test_the_key_is_a_secret_reference(desktops, monkeypatch, settings):
    settings.VDI_GUACAMOLE_KEY = "env:CMDB_GUACAMOLE_KEY"
    monkeypatch.setenv("CMDB_GUACAMOLE_KEY", KEY_HEX)
    assert decrypt(guacamole.token(desktops), KEY_HEX)["username"] == "alice"
    settings.VDI_GUACAMOLE_KEY = "env:SECRET_KEY"  # not provisioned for Guacamole: refused
    with pytest.raises(Exception, match="GUACAMOLE"):
        guacamole.token(desktops)
    with pytest.raises(ValueError, match="128 bits"):
        guacamole.key_bytes("abcd")


def test_user_mapping_xml(desktops):
    root = ET.fromstring(guacamole.user_mapping_xml({"alice": "s3cret"}))  # noqa: S314 - our own output
    (auth,) = root.findall("authorize")
    assert auth.get("username") == "alice" and auth.get("encoding") == "sha256"
    assert auth.get("password") == hashlib.sha256(b"s3cret").hexdigest()
    assert [c.get("name") for c in auth.findall("connection")] == ["cad-001", "lab-001"]
    assert auth.find("connection/param[@name='hostname']").text == "10.0.1.1"
