"""Chat in: commands typed in Slack or Teams run the use cases as the person who typed them,
and every message that enters the record keeps where it came from (module 3)."""
