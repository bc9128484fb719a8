"""An IT-operations CMDB that does not only record the infrastructure but runs it."""

__version__ = "0.1.0"
# The NetBox release whose REST conventions the API follows; clients such as
# the nb_inventory plugin branch on it.
NETBOX_COMPAT_VERSION = "4.4.0"
API_VERSION = "4.4"
