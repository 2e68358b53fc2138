"""Experiments run outside the package: proposed rules measured before anyone edits ``ops.py``."""
