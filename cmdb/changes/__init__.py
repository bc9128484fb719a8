"""Change management: requests, approvals, plans from reconcilers, freezes and the apply gate."""
