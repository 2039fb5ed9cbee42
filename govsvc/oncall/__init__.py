"""On-call: schedules in layers with RFC 5545 hand-offs, overrides, ICS feeds, jurisdiction
rules, escalation policies and the pages they send."""
