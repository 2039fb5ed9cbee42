"""Secrets pasted by mistake are caught, each kind; assignments keep their key."""

from __future__ import annotations

import pytest

from govsvc.redaction import RedactionEngine, Roster

# The secret in each sample is between « and ». Values are made up.
SECRETS = [
    "key id «AKIAIOSFODNN7EXAMPLE» in the dump",
    "aws_secret_access_key = «wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY»",
    "the value «wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY» again",
    "git token «ghp_1234567890abcdefghijABCDEFGHIJ123456» pasted",
    "fine-grained «github_pat_11ABCDEFG0123456789abcd_0123456789abcdefghijABCDEFGHIJklmnopqrstuv»",
    "bot «xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx» posted",
    "jwt «eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk»",
    "password=«hunter2x!»",
    "DB_PASSWORD: «s3cr3t-Pa55»",
    "token=«Zx8Qw2Lm4Np6Rt8Vb0Cd»",
    "Authorization: Bearer «abcdEFGH1234ijklMNOP5678»",
    "govsvc token «gsv_Q2x1ZGVfaXNfbm90X2FfcmVhbF90b2tlbl9hdF9hbGw»",
    "postgres://app:«Sup3rS3cret»@db.example.net/app",
    "alerts via «https://hooks.slack.com/services/T0000AAAA/B0000BBBB/abcdefghijklmnopqrstuvwx»",
    "stripe «sk_live_4eC39HqLyjWDarjtT1zdp7dc» leaked",
]


@pytest.mark.parametrize("marked", SECRETS)
def test_secret_is_caught(engine: RedactionEngine, marked: str) -> None:
    start, end = marked.index("«"), marked.index("»") - 1
    text = marked.replace("«", "").replace("»", "")
    [secret] = [s for s in engine.preview(text, Roster()) if s.entity_type == "SECRET"]
    # Exactly the secret, or a URL around it (a URL with a password in it is a secret).
    assert (secret.start, secret.end) == (start, end) or "://" in secret.text
    assert secret.start <= start
    assert end <= secret.end


def test_private_key_block_whole_or_cut_off(engine: RedactionEngine) -> None:
    block = (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1x\nQ2xvc2Vk\n"
        "-----END RSA PRIVATE KEY-----"
    )
    for text in (f"Pasted:\n{block}\nthen rotated.", f"Pasted:\n{block[:60]}"):
        redacted = engine.apply(text, engine.preview(text, Roster()), Roster())
        assert "MIIE" not in redacted.text
        assert "[SECRET]" in redacted.text


def test_assignment_keeps_its_key(engine: RedactionEngine) -> None:
    text = "The config had password=hunter2x! in it."
    redacted = engine.apply(text, engine.preview(text, Roster()), Roster())
    assert redacted.text == "The config had password=[SECRET] in it."
