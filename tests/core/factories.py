"""Small builders for the objects the core and users tests need (real rows, no mocks)."""

from __future__ import annotations

from typing import Any

from cmdb.dcim.models import Device, DeviceRole, DeviceType, Manufacturer, Rack, Site
from cmdb.tenancy.models import Tenant


def tenant(name: str) -> Tenant:
    obj, _ = Tenant.objects.get_or_create(name=name, defaults={"slug": name.lower().replace(" ", "-")})
    return obj


def site(name: str = "Zittau", **extra: Any) -> Site:
    obj = Site.objects.filter(name=name).first()
    if obj is None:
        obj = Site(name=name, slug=name.lower().replace(" ", "-"), **extra)
        obj.save()
    return obj


def manufacturer(name: str = "Dell") -> Manufacturer:
    obj = Manufacturer.objects.filter(name=name).first()
    if obj is None:
        obj = Manufacturer(name=name, slug=name.lower())
        obj.save()
    return obj


def device_type(model: str = "PowerEdge R650", *, maker: str = "Dell", u_height: int = 1, **extra: Any) -> DeviceType:
    mfr = manufacturer(maker)
    obj = DeviceType.objects.filter(manufacturer=mfr, model=model).first()
    if obj is None:
        obj = DeviceType(manufacturer=mfr, model=model, slug=model.lower().replace(" ", "-"), u_height=u_height,
                         **extra)
        obj.save()
    return obj


def role(name: str = "Server") -> DeviceRole:
    obj = DeviceRole.objects.filter(name=name).first()
    if obj is None:
        obj = DeviceRole(name=name, slug=name.lower())
        obj.save()
    return obj


def rack(name: str = "R1", *, at: Site | None = None, **extra: Any) -> Rack:
    obj = Rack(name=name, site=at or site(), **extra)
    obj.save()
    return obj


def device(name: str, *, at: Site | None = None, dtype: DeviceType | None = None, save: bool = True,
           **extra: Any) -> Device:
    obj = Device(name=name, site=at or site(), device_type=dtype or device_type(), role=role(), **extra)
    if save:
        obj.save()
    return obj
