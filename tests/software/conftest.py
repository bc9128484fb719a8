"""The UI tests' ``grant`` fixture (a logged-in client for a user with one permission), for the software pages."""

from tests.ui.conftest import grant  # noqa: F401
