"""Tamper-evident audit log: a hash chain appended in the same transaction as each change."""
