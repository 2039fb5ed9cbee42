"""Regulatory compliance: notification clocks that regulators impose on incidents."""
