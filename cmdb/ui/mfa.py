"""Second factor: TOTP devices and static recovery codes from django-otp, and who must use them.

Enforcement is configured by ``MFA_REQUIRED_GROUPS`` (environment, comma-separated group
names).  The pseudo-group ``@writers`` means every user who may write anything (any add,
change or delete grant, or a superuser), the usual choice for a computing center.
"""

from __future__ import annotations

import io
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODES = 10


def has_device(user: Any) -> bool:
    return any(True for _ in devices_for_user(user, confirmed=True))


def _is_writer(user: Any) -> bool:
    if user.is_superuser:
        return True
    from cmdb.users.permissions import grants_for

    return any(action in ("add", "change", "delete") for (_label, action) in grants_for(user).grants)


def mfa_required(user: Any) -> bool:
    """Whether this user must have a second factor (configured groups or ``@writers``)."""
    groups = set(getattr(settings, "MFA_REQUIRED_GROUPS", []))
    if not groups or not getattr(user, "is_authenticated", False):
        return False
    if "@writers" in groups and _is_writer(user):
        return True
    named = groups - {"@writers"}
    return bool(named) and user.groups.filter(name__in=named).exists()


def totp_start(user: Any) -> TOTPDevice:
    """An unconfirmed TOTP device for enrolment (replacing an earlier unconfirmed one)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


def totp_confirm(device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm enrolment with a first code; returns fresh recovery codes, or None if the code is wrong."""
    if not device.verify_token(token.strip()):
        return None
    device.confirmed = True
    device.save()
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    return recovery_codes_regenerate(device.user)


def recovery_codes_regenerate(user: Any) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=c) for c in codes])
    return codes


def mfa_disable(user: Any) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG (pure Python, no image libraries)."""
    img = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue().decode()
