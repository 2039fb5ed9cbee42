"""Grants: who holds which role in which business unit, and the access they add up to."""
