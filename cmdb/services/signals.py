"""Graph cache invalidation hooks (filled in with the relationship models)."""
