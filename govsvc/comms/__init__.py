"""Communication: one source of truth for status per audience, templates, approvals,
post-mortems and their redacted public versions, and the public status page."""
