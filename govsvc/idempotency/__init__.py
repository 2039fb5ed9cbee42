"""Idempotency keys: a client retrying a mutation after a cut connection gets the first answer
instead of writing twice."""
