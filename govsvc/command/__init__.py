"""Command of an incident: who holds which role, hand-overs, the command model that applies
(centralised or distributed, from policies/command.yaml) and the rules on role conflicts."""
