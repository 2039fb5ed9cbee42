"""Compliance: control catalogs and mappings, and the clocks regulators set on incidents."""
