"""The entity types the redaction engine speaks, and how they rank against each other.

Presidio's built-in names are kept as they are (EMAIL_ADDRESS, PHONE_NUMBER, ...) so spans from
its recognizers need no translation; govsvc's own types are added beside them.
"""

from __future__ import annotations

from typing import Final

# From the incident's roster: these must never reach a public document.
ROSTER_PERSON: Final = "ROSTER_PERSON"
ROSTER_TEAM: Final = "ROSTER_TEAM"
CUSTOMER: Final = "CUSTOMER"
# A chat mention ("@kofi"): a person, on the roster or not.
CHAT_HANDLE: Final = "CHAT_HANDLE"

# From the redaction policy (policies/redaction.yaml).
SECRET: Final = "SECRET"  # noqa: S105 - an entity type, not a password
INTERNAL_HOST: Final = "INTERNAL_HOST"
ACCOUNT_ID: Final = "ACCOUNT_ID"
TICKET_ID: Final = "TICKET_ID"

# Presidio's built-ins, and the statistical model's guesses.
EMAIL_ADDRESS: Final = "EMAIL_ADDRESS"
PHONE_NUMBER: Final = "PHONE_NUMBER"
CREDIT_CARD: Final = "CREDIT_CARD"
IBAN_CODE: Final = "IBAN_CODE"
IP_ADDRESS: Final = "IP_ADDRESS"
US_SSN: Final = "US_SSN"
URL: Final = "URL"
PERSON: Final = "PERSON"
LOCATION: Final = "LOCATION"

# Found by the statistical model: a guess, so it never outranks a pattern or the roster.
GUESSED: Final = frozenset({PERSON, LOCATION})

# What `RedactionEngine.leaks` refuses to publish. PERSON and LOCATION are left out: the model
# guesses them, and a fail-closed gate on guesses would block every post-mortem that mentions
# Kafka; the roster is what makes names certain.
LEAK_TYPES: Final = frozenset(
    {
        ROSTER_PERSON,
        ROSTER_TEAM,
        CUSTOMER,
        CHAT_HANDLE,
        SECRET,
        INTERNAL_HOST,
        EMAIL_ADDRESS,
        PHONE_NUMBER,
        CREDIT_CARD,
        IBAN_CODE,
        IP_ADDRESS,
        US_SSN,
    }
)

# When spans overlap and are equally long, the earlier type here names the merged span.
PRIORITY: Final = (
    SECRET,
    ROSTER_PERSON,
    CUSTOMER,
    ROSTER_TEAM,
    INTERNAL_HOST,
    CHAT_HANDLE,
    CREDIT_CARD,
    IBAN_CODE,
    US_SSN,
    EMAIL_ADDRESS,
    IP_ADDRESS,
    ACCOUNT_ID,
    TICKET_ID,
    PHONE_NUMBER,  # the loosest pattern: a dotted IP or an account number can parse as a phone
    URL,
    PERSON,
    LOCATION,
)


def rank(entity_type: str) -> int:
    """Lower is stronger; types this module does not know rank after all it does."""
    try:
        return PRIORITY.index(entity_type)
    except ValueError:
        return len(PRIORITY)
