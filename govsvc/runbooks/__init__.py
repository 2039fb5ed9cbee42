"""Runbooks: versioned response procedures (policies/runbooks/*.yaml) run against incidents,
with manual, automated (signed HTTP calls) and approval steps, and human overrides."""
