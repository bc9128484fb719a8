"""Ansible inventory plugin for the CMDB.

Reads ``/api/ansible/inventory/`` (one request: groups by site, location, role,
platform, tenant, service, tag and status; host variables from the CMDB plus
merged config contexts) and adds it to Ansible's inventory.

    # inventory/cmdb.yml
    plugin: cmdb
    api_endpoint: https://cmdb.example.org
    token: "{{ lookup('env', 'CMDB_TOKEN') }}"   # or CMDB_TOKEN in the environment
"""

from __future__ import annotations

import json
import urllib.request

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin

DOCUMENTATION = r"""
name: cmdb
short_description: Hosts and groups from the CMDB REST API
description:
  - Devices and virtual machines with groups by site, location, role, platform, tenant, service, tag and status.
options:
  plugin:
    description: Must be C(cmdb).
    required: true
    choices: [cmdb]
  api_endpoint:
    description: Base URL of the CMDB.
    env:
      - name: CMDB_URL
    required: true
  token:
    description: API token.
    env:
      - name: CMDB_TOKEN
    required: true
  validate_certs:
    description: Verify TLS certificates.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the API.
    type: int
    default: 120
"""


class InventoryModule(BaseInventoryPlugin):
    NAME = "cmdb"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(("cmdb.yml", "cmdb.yaml"))

    def _fetch(self) -> dict:
        url = self.get_option("api_endpoint").rstrip("/") + "/api/ansible/inventory/"
        request = urllib.request.Request(url, headers={  # noqa: S310 (the URL is the operator's own CMDB)
            "Authorization": f"Token {self.templar.template(self.get_option('token'))}",
            "Accept": "application/json"})
        context = None
        if not self.get_option("validate_certs"):
            import ssl

            context = ssl._create_unverified_context()  # noqa: S323 (explicitly asked for)
        try:
            with urllib.request.urlopen(request, timeout=self.get_option("timeout"), context=context) as resp:  # noqa: S310
                return json.load(resp)
        except Exception as exc:
            raise AnsibleError(f"CMDB inventory from {url} failed: {exc}") from exc

    def parse(self, inventory, loader, path, cache=True):  # type: ignore[no-untyped-def]
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        data = self._fetch()
        hostvars = data.get("_meta", {}).get("hostvars", {})
        for group, body in data.items():
            if group in ("_meta", "all") or not isinstance(body, dict):
                continue
            self.inventory.add_group(group)
            for host in body.get("hosts", []):
                self.inventory.add_host(host, group=group)
        for host, variables in hostvars.items():
            self.inventory.add_host(host)
            for key, value in variables.items():
                self.inventory.set_variable(host, key, value)
