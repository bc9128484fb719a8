#!/bin/sh
# Ansible dynamic-inventory script: run the CMDB's own inventory command (--list / --host NAME).
exec "${CMDB:-cmdb}" inventory "$@"
