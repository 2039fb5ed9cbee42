"""Authorization: Casbin decides what roles may do; the database filters what a caller sees."""
