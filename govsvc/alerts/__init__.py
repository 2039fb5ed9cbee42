"""Detection and alerting: signals from monitoring become deduplicated, routed, correlated,
classified incidents, with every payload on record (module 2 of the outage lifecycle)."""
