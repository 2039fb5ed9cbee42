"""Authentication: API tokens (stored as keyed hashes) and OIDC JWTs."""
