"""UI registrations for the core apps (filled in by the registry module)."""
