from .base import ChangeLoggedModel, CIModel, OrganizationalModel, PrimaryModel, TaggedModel
from .changelog import ObjectChange
from .registry import ConfigurationItem

__all__ = [
    "CIModel",
    "ChangeLoggedModel",
    "ConfigurationItem",
    "ObjectChange",
    "OrganizationalModel",
    "PrimaryModel",
    "TaggedModel",
]
