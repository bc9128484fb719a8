from django.db import models


class RackFace(models.TextChoices):
    FRONT = "front", "Front"
    REAR = "rear", "Rear"


class InterfaceType(models.TextChoices):
    VIRTUAL = "virtual", "Virtual"
    BRIDGE = "bridge", "Bridge"
    LAG = "lag", "Link Aggregation Group (LAG)"
    BASE_T_100M = "100base-tx", "100BASE-TX (10/100ME)"
    BASE_T_1G = "1000base-t", "1000BASE-T (1GE)"
    BASE_T_10G = "10gbase-t", "10GBASE-T (10GE)"
    SFP_1G = "1000base-x-sfp", "SFP (1GE)"
    SFPP_10G = "10gbase-x-sfpp", "SFP+ (10GE)"
    SFP28_25G = "25gbase-x-sfp28", "SFP28 (25GE)"
    QSFPP_40G = "40gbase-x-qsfpp", "QSFP+ (40GE)"
    QSFP28_100G = "100gbase-x-qsfp28", "QSFP28 (100GE)"
    WIFI = "ieee802.11ax", "IEEE 802.11ax"
    OTHER = "other", "Other"
