"""Preflight: the checks a user runs with production settings before the first load."""
