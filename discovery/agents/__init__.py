"""Discovery agents: collect facts about machines and turn them into CMDB reports.

Everything in this package is importable without Django and without the rest of the CMDB
(``tests/test_import_boundaries.py`` enforces it) and needs little more
than the standard library (``pysnmp`` for SNMP, ``ansible-runner`` for Ansible
facts and ``libvirt-python`` for libvirt, each imported only by its agent; ansible-runner is a
dependency of the product, the other two come with the ``discovery`` extra).
Reports follow the versioned JSON Schema in ``discovery/agents/schema/report-v1.json``
and are pushed to ``POST /api/discovery/reports/`` by :mod:`discovery.agents.report`.
"""

SCHEMA_VERSION = "1"
__version__ = "1.0"
