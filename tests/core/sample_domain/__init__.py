"""A domain as small as the contract allows, for tests/core/test_domains.py (not installed otherwise)."""
