"""Transactional outbox: events recorded in the caller's transaction, delivered by the worker.

A service function calls `enqueue.enqueue(session, ...)` inside its own write transaction, so
an event and the change it describes commit together or not at all. The worker's
`deliver.deliver_due` then POSTs each delivery, signed (`signing`), in the shape its endpoint
expects (`formats`), retrying with backoff until it is delivered or dead-lettered; `admin` lets
an administrator register endpoints, inspect every attempt and requeue what failed.
"""
