"""Default settings."""
