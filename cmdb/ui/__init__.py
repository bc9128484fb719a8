"""The web UI for sysadmins: server-rendered pages over the same services, filter sets and permissions as the API."""
