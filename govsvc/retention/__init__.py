"""Retention rules as data, legal holds, and the disposition of what has expired."""
