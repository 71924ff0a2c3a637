"""`python -m sparkify_assets.preflight`: the checks of preflight_checks.py as a command."""
