"""pytest hooks of pytest-xarch (filled in by the plugin issue)."""
