"""Discovery: agents that observe machines, and the CMDB app that ingests what they report.

* ``discovery.agents`` — the agents (host, network/SNMP, libvirt, Ansible facts), the report
  builder and schema, and their command line ``python -m discovery <agent> ...``.  They import
  no Django and nothing of the CMDB, so they run on any machine with little more than Python.
* the rest of this package — the Django app (label ``discovery``): report ingestion,
  identification, attribute precedence, linking to recorded CIs, staleness, jobs, API and pages.

This module stays free of Django imports: ``python -m discovery`` imports it on machines without
the CMDB.
"""
