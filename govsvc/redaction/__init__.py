"""Redacting post-mortems and status updates before they go public (see engine.py)."""

from govsvc.redaction.engine import Redacted, RedactionEngine, Replacement
from govsvc.redaction.nlp import DEFAULT_MODEL, ModelNotInstalledError
from govsvc.redaction.patterns import (
    RedactionPatterns,
    RedactionPatternsError,
    load_redaction_patterns,
)
from govsvc.redaction.roster import Roster, RosterPerson, RosterRecognizer
from govsvc.redaction.spans import Span

__all__ = [
    "DEFAULT_MODEL",
    "ModelNotInstalledError",
    "Redacted",
    "RedactionEngine",
    "RedactionPatterns",
    "RedactionPatternsError",
    "Replacement",
    "Roster",
    "RosterPerson",
    "RosterRecognizer",
    "Span",
    "load_redaction_patterns",
]
