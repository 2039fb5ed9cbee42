"""HTTP routes beside GraphQL: evidence and pack downloads, the public status page."""
