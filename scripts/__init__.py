"""Command-line scripts that are not Django management commands (conversion, demo data)."""
