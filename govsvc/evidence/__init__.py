"""Evidence: immutable artifacts kept in WORM storage, hashed, linked, retained, disposed."""
