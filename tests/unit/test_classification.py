"""Incident classification: impact judgement, the real policy's rules, and loader refusals."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from govsvc.incidents.classification import (
    ClassificationPolicyError,
    DataExposure,
    ImpactFacts,
    ImpactKind,
    PolicyBook,
    ServiceLevel,
    Severity,
    UnknownPolicyVersion,
    judge_impact,
    load_policy_book,
)
from govsvc.policy_files import PolicyFileError

POLICY_FILE = Path(__file__).parents[2] / "policies" / "classification.yaml"

TIER1 = ServiceLevel(
    tier=1, availability_target_pct=99.95, latency_threshold_ms=300, latency_outage_ms=2000
)
TIER2 = ServiceLevel(
    tier=2, availability_target_pct=99.9, latency_threshold_ms=500, latency_outage_ms=5000
)
TIER3 = ServiceLevel(tier=3, availability_target_pct=99.5)
SLOW = 1000  # p99 ms: above TIER1's and TIER2's degradation threshold, below their outage level


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return load_policy_book(POLICY_FILE)


# --- outage versus degradation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        pytest.param(ImpactFacts(), ImpactKind.NONE, id="no measurements"),
        pytest.param(ImpactFacts(unavailable=True), ImpactKind.OUTAGE, id="unavailable"),
        pytest.param(ImpactFacts(availability_pct=99.94), ImpactKind.OUTAGE, id="below target"),
        pytest.param(ImpactFacts(availability_pct=99.95), ImpactKind.NONE, id="exactly at target"),
        pytest.param(ImpactFacts(availability_pct=100.0), ImpactKind.NONE, id="above target"),
        pytest.param(ImpactFacts(latency_p99_ms=300), ImpactKind.NONE, id="at latency threshold"),
        pytest.param(ImpactFacts(latency_p99_ms=301), ImpactKind.DEGRADATION, id="over threshold"),
        pytest.param(ImpactFacts(latency_p99_ms=1999), ImpactKind.DEGRADATION, id="below outage"),
        pytest.param(ImpactFacts(latency_p99_ms=2000), ImpactKind.OUTAGE, id="at outage latency"),
        pytest.param(
            ImpactFacts(availability_pct=99.99, latency_p99_ms=2500),
            ImpactKind.OUTAGE,
            id="latency outage despite good availability",
        ),
        pytest.param(
            ImpactFacts(availability_pct=99.0, latency_p99_ms=100),
            ImpactKind.OUTAGE,
            id="availability outage despite good latency",
        ),
    ],
)
def test_judge_impact_draws_the_lines_of_the_sla(facts: ImpactFacts, expected: ImpactKind) -> None:
    # given a tier-1 SLA: target 99.95 %, degraded above 300 ms, down from 2000 ms
    sla = TIER1

    # when
    kind = judge_impact(facts, sla)

    # then
    assert kind is expected


@pytest.mark.parametrize(
    ("sla", "latency", "expected"),
    [
        pytest.param(TIER3, 60_000, ImpactKind.NONE, id="no latency thresholds at all"),
        pytest.param(
            ServiceLevel(tier=2, availability_target_pct=99.9, latency_threshold_ms=500),
            60_000,
            ImpactKind.DEGRADATION,
            id="threshold but no outage level",
        ),
        pytest.param(
            ServiceLevel(tier=2, availability_target_pct=99.9, latency_outage_ms=5000),
            4999,
            ImpactKind.NONE,
            id="outage level but no threshold",
        ),
    ],
)
def test_judge_impact_ignores_latency_limits_the_sla_does_not_set(
    sla: ServiceLevel, latency: int, expected: ImpactKind
) -> None:
    # given
    facts = ImpactFacts(latency_p99_ms=latency)

    # when
    kind = judge_impact(facts, sla)

    # then
    assert kind is expected


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda: ImpactFacts(customers_affected=-1), "customers_affected", id="neg"),
        pytest.param(lambda: ImpactFacts(duration_minutes=-5), "duration_minutes", id="duration"),
        pytest.param(lambda: ImpactFacts(availability_pct=100.1), "availability_pct", id="pct"),
        pytest.param(lambda: ImpactFacts(latency_p99_ms=-1), "latency_p99_ms", id="latency"),
        pytest.param(
            lambda: ImpactFacts(data_exposure="leaked"),  # type: ignore[arg-type]
            "data_exposure must be one of none, suspected, confirmed, got 'leaked'",
            id="exposure",
        ),
        pytest.param(
            lambda: ServiceLevel(tier=0, availability_target_pct=99.9), "tier", id="tier 0"
        ),
        pytest.param(
            lambda: ServiceLevel(tier=1, availability_target_pct=120), "availability", id="target"
        ),
        pytest.param(
            lambda: ServiceLevel(
                tier=1,
                availability_target_pct=99.9,
                latency_threshold_ms=500,
                latency_outage_ms=500,
            ),
            "must be below latency_outage_ms",
            id="threshold not below outage level",
        ),
    ],
)
def test_facts_and_service_levels_refuse_impossible_values(
    make: Callable[[], object], message: str
) -> None:
    # given a constructor call with an impossible value (make)

    # when / then
    with pytest.raises(ValueError, match=message):
        make()


def test_facts_accept_data_exposure_as_plain_string() -> None:
    # given / when
    facts = ImpactFacts(data_exposure="confirmed")  # type: ignore[arg-type]

    # then
    assert facts.data_exposure is DataExposure.CONFIRMED


def test_severity_rank_puts_sev1_first() -> None:
    # given
    severities = list(Severity)

    # when
    ranked = sorted(severities, key=lambda severity: severity.rank, reverse=True)

    # then
    assert [severity.rank for severity in Severity] == [1, 2, 3, 4]
    assert ranked[-1] is Severity.SEV1
    assert Severity.SEV1.is_more_severe_than(Severity.SEV2)
    assert not Severity.SEV3.is_more_severe_than(Severity.SEV3)


# --- the real policy ----------------------------------------------------------------------------

# One case per rule of every version of policies/classification.yaml; the completeness test below
# fails when a rule is added without a case showing it can be reached.
RULE_CASES = [
    ("2026.1", "confirmed-data-exposure", Severity.SEV1,
     ImpactFacts(data_exposure=DataExposure.CONFIRMED), TIER3),
    ("2026.1", "tier1-outage-long", Severity.SEV1,
     ImpactFacts(unavailable=True, duration_minutes=30), TIER1),
    ("2026.1", "tier1-outage-widespread", Severity.SEV1,
     ImpactFacts(unavailable=True, duration_minutes=5, customers_affected=1000), TIER1),
    ("2026.1", "suspected-data-exposure", Severity.SEV2,
     ImpactFacts(data_exposure=DataExposure.SUSPECTED), TIER3),
    ("2026.1", "regulatory-exposure", Severity.SEV2,
     ImpactFacts(regulatory_exposure=True), TIER3),
    ("2026.1", "tier1-outage", Severity.SEV2,
     ImpactFacts(availability_pct=99.0, duration_minutes=29), TIER1),
    ("2026.1", "tier2-outage-long", Severity.SEV2,
     ImpactFacts(unavailable=True, duration_minutes=60), TIER2),
    ("2026.1", "widespread-customer-impact", Severity.SEV2,
     ImpactFacts(latency_p99_ms=SLOW, customers_affected=5000), TIER2),
    ("2026.1", "other-outage", Severity.SEV3,
     ImpactFacts(unavailable=True, duration_minutes=59), TIER2),
    ("2026.1", "tier1-degradation", Severity.SEV3,
     ImpactFacts(latency_p99_ms=SLOW, duration_minutes=600), TIER1),
    ("2026.1", "many-customers-affected", Severity.SEV3,
     ImpactFacts(customers_affected=100), TIER3),
    ("2026.2", "confirmed-data-exposure", Severity.SEV1,
     ImpactFacts(data_exposure=DataExposure.CONFIRMED, regulatory_exposure=True), TIER1),
    ("2026.2", "tier1-outage-major", Severity.SEV1,
     ImpactFacts(unavailable=True, duration_minutes=15), TIER1),
    ("2026.2", "tier1-outage-major", Severity.SEV1,
     ImpactFacts(unavailable=True, customers_affected=1000), TIER1),
    ("2026.2", "suspected-data-exposure", Severity.SEV2,
     ImpactFacts(data_exposure=DataExposure.SUSPECTED, customers_affected=10), TIER2),
    ("2026.2", "regulatory-exposure", Severity.SEV2,
     ImpactFacts(regulatory_exposure=True, latency_p99_ms=SLOW), TIER2),
    ("2026.2", "tier1-outage", Severity.SEV2,
     ImpactFacts(unavailable=True, duration_minutes=14, customers_affected=999), TIER1),
    ("2026.2", "tier1-degradation-prolonged", Severity.SEV2,
     ImpactFacts(latency_p99_ms=SLOW, duration_minutes=240), TIER1),
    ("2026.2", "tier2-outage-long", Severity.SEV2,
     ImpactFacts(latency_p99_ms=5000, duration_minutes=90), TIER2),
    ("2026.2", "widespread-customer-impact", Severity.SEV2,
     ImpactFacts(unavailable=True, customers_affected=20_000), TIER3),
    ("2026.2", "other-outage", Severity.SEV3,
     ImpactFacts(unavailable=True), TIER3),
    ("2026.2", "tier1-degradation", Severity.SEV3,
     ImpactFacts(latency_p99_ms=SLOW, duration_minutes=239), TIER1),
    ("2026.2", "many-customers-affected", Severity.SEV3,
     ImpactFacts(latency_p99_ms=SLOW, customers_affected=150), TIER2),
]  # fmt: skip


@pytest.mark.parametrize(("version", "rule_id", "severity", "facts", "sla"), RULE_CASES)
def test_every_rule_of_the_real_policy_is_reachable(
    book: PolicyBook,
    version: str,
    rule_id: str,
    severity: Severity,
    facts: ImpactFacts,
    sla: ServiceLevel,
) -> None:
    # given
    policy = book.get(version)

    # when
    result = policy.classify(facts, sla)

    # then
    assert (result.rule_id, result.severity) == (rule_id, severity)
    assert result.policy_version == version
    assert result.reasons


def test_rule_cases_cover_every_rule_of_every_version(book: PolicyBook) -> None:
    # given
    covered = {(version, rule_id) for version, rule_id, *_ in RULE_CASES}

    # when
    rules = {
        (version, rule_id) for version in book.versions for rule_id in book.get(version).rule_ids
    }

    # then
    assert covered == rules


@pytest.mark.parametrize(
    ("facts", "sla", "old", "new"),
    [
        pytest.param(
            ImpactFacts(unavailable=True, duration_minutes=20),
            TIER1,
            ("tier1-outage", Severity.SEV2),
            ("tier1-outage-major", Severity.SEV1),
            id="tier-1 outage of 20 min: SEV1 from 15 min in 2026.2",
        ),
        pytest.param(
            ImpactFacts(latency_p99_ms=SLOW, duration_minutes=300),
            TIER1,
            ("tier1-degradation", Severity.SEV3),
            ("tier1-degradation-prolonged", Severity.SEV2),
            id="tier-1 degradation of 5 h: SEV2 in 2026.2",
        ),
    ],
)
def test_the_policy_version_changes_the_classification(
    book: PolicyBook,
    facts: ImpactFacts,
    sla: ServiceLevel,
    old: tuple[str, Severity],
    new: tuple[str, Severity],
) -> None:
    # given
    before, after = book.get("2026.1"), book.get("2026.2")

    # when
    old_result, new_result = before.classify(facts, sla), after.classify(facts, sla)

    # then
    assert (old_result.rule_id, old_result.severity) == old
    assert (new_result.rule_id, new_result.severity) == new


@pytest.mark.parametrize("version", ["2026.1", "2026.2"])
def test_unknown_duration_meets_no_duration_bound(book: PolicyBook, version: str) -> None:
    # given a long tier-1 outage whose duration is not known yet, few customers
    facts = ImpactFacts(unavailable=True, duration_minutes=None, customers_affected=10)

    # when
    result = book.get(version).classify(facts, TIER1)

    # then it is not escalated on a duration nobody measured
    assert (result.rule_id, result.severity) == ("tier1-outage", Severity.SEV2)


@pytest.mark.parametrize(
    "facts",
    [
        pytest.param(ImpactFacts(regulatory_exposure=True), id="alone"),
        pytest.param(ImpactFacts(regulatory_exposure=True, latency_p99_ms=SLOW), id="degraded"),
        pytest.param(ImpactFacts(regulatory_exposure=True, unavailable=True), id="down"),
        pytest.param(
            ImpactFacts(regulatory_exposure=True, unavailable=True, duration_minutes=60),
            id="down long",
        ),
    ],
)
@pytest.mark.parametrize("sla", [TIER1, TIER2, TIER3], ids=["tier1", "tier2", "tier3"])
def test_regulatory_exposure_is_at_least_sev2(
    book: PolicyBook, facts: ImpactFacts, sla: ServiceLevel
) -> None:
    # given
    policy = book.current

    # when
    result = policy.classify(facts, sla)

    # then
    assert result.severity.rank <= Severity.SEV2.rank


def test_reasons_name_every_condition_that_matched(book: PolicyBook) -> None:
    # given
    facts = ImpactFacts(unavailable=True, duration_minutes=45)

    # when
    result = book.get("2026.1").classify(facts, TIER1)

    # then
    assert result.rule_id == "tier1-outage-long"
    assert result.impact_kind is ImpactKind.OUTAGE
    assert result.reasons == (
        "impact is outage (service unavailable)",
        "service tier 1 <= 1",
        "duration 45 min >= 30",
    )


def test_reasons_of_an_any_rule_name_the_alternative_that_matched(book: PolicyBook) -> None:
    # given
    facts = ImpactFacts(availability_pct=97.5, customers_affected=4000, duration_minutes=3)

    # when
    result = book.current.classify(facts, TIER1)

    # then
    assert result.rule_id == "tier1-outage-major"
    assert result.reasons == (
        "impact is outage (availability 97.5% < target 99.95%)",
        "service tier 1 <= 1",
        "customers affected 4000 >= 1000",
    )


def test_default_applies_when_no_rule_matches(book: PolicyBook) -> None:
    # given a short tier-2 slowdown felt by few customers
    facts = ImpactFacts(latency_p99_ms=SLOW, customers_affected=5, duration_minutes=10)

    # when
    result = book.current.classify(facts, TIER2)

    # then
    assert result.severity is Severity.SEV4
    assert result.rule_id is None
    assert result.impact_kind is ImpactKind.DEGRADATION
    assert result.reasons == ("no rule matched; default SEV4 of policy 2026.2",)


def test_book_knows_its_versions_and_current_one(book: PolicyBook) -> None:
    # given / when
    versions, current = book.versions, book.current

    # then
    assert versions == ("2026.1", "2026.2")
    assert current.version == "2026.2"
    assert book.get("2026.1").version == "2026.1"


def test_book_refuses_an_unknown_version(book: PolicyBook) -> None:
    # given
    version = "1999.1"

    # when
    with pytest.raises(UnknownPolicyVersion) as raised:
        book.get(version)

    # then
    assert raised.value.version == version


# --- loader refusals ----------------------------------------------------------------------------

VALID = textwrap.dedent(
    """\
    current: "2026.1"
    versions:
      - version: "2026.1"
        effective_from: 2026-01-01
        description: Test policy.
        default: SEV4
        rules:
          - id: outage
            severity: SEV2
            when: {impact: [outage]}
          - id: degradation
            severity: SEV3
            when: {impact: [degradation]}
    """
)
SECOND_VERSION = textwrap.indent(
    textwrap.dedent(
        """\
        - version: "2026.1"
          effective_from: 2026-02-01
          description: Same number again.
          default: SEV4
          rules:
            - id: outage
              severity: SEV2
              when: {impact: [outage]}
        """
    ),
    "  ",
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "classification.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_loads(tmp_path: Path) -> None:
    # given
    path = _write(tmp_path, VALID)

    # when
    book = load_policy_book(path)

    # then
    assert book.versions == ("2026.1",)
    assert book.current.rule_ids == ("outage", "degradation")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            VALID.replace("[outage]}", "[outage}"),
            ["line 10, column 31", "YAML error", "expected ',' or ']'"],
            id="yaml syntax",
        ),
        pytest.param(
            VALID.replace("severity: SEV2", "severity: SEV2\n        severity: SEV1"),
            ["line 10, column 9", "duplicate key 'severity' (first on line 9)"],
            id="duplicate yaml key",
        ),
        pytest.param(
            VALID + "---\ncurrent: x\n",
            ["line 14, column 1", "expected a single document"],
            id="two yaml documents",
        ),
        pytest.param(
            VALID.replace("severity: SEV2", "severity: SEV0"),
            ["versions.0.rules.0.severity (line 9)", "'SEV0'"],
            id="unknown severity",
        ),
        pytest.param(
            VALID.replace("default: SEV4", "default: LOW"),
            ["versions.0.default (line 6)", "'LOW'"],
            id="unknown default severity",
        ),
        pytest.param(
            VALID.replace("    default: SEV4\n", ""),
            ["versions.0.default (line 3)", "required key is missing"],
            id="missing key",
        ),
        pytest.param(
            VALID + SECOND_VERSION,
            ["versions (line 2)", "versions.1: duplicate version '2026.1' (see versions.0)"],
            id="duplicate version",
        ),
        pytest.param(
            VALID.replace("id: degradation", "id: outage"),
            ["versions.0.rules (line 7)", "rules.1: duplicate rule id 'outage' (see rules.0)"],
            id="duplicate rule id",
        ),
        pytest.param(
            VALID.replace('current: "2026.1"', 'current: "2026.9"'),
            ["current (line 1)", "'2026.9' is not among the versions (2026.1)"],
            id="current not among versions",
        ),
        pytest.param(
            VALID.replace("{impact: [outage]}", "{impact: [outage], tier_max: 1}"),
            ["versions.0.rules.0.when.tier_max (line 10)", "unknown key 'tier_max'"],
            id="unknown condition key",
        ),
        pytest.param(
            VALID.replace("{impact: [outage]}", "{tier: {lte: one}}"),
            ["versions.0.rules.0.when.tier.range.lte (line 10)", "'one'"],
            id="tier bound not a number",
        ),
        pytest.param(
            VALID.replace("{impact: [outage]}", "{tier: [0]}"),
            ["versions.0.rules.0.when.tier.list.0 (line 10)", "greater than or equal to 1"],
            id="tier zero",
        ),
        pytest.param(
            VALID.replace("{impact: [outage]}", "{duration_minutes: {}}"),
            ["versions.0.rules.0.when.duration_minutes (line 10)", "at least one of"],
            id="empty bounds",
        ),
        pytest.param(
            VALID.replace("{impact: [outage]}", "{customers_affected: {gte: 10, lte: 5}}"),
            ["versions.0.rules.0.when.customers_affected (line 10)", "empty range"],
            id="inverted bounds",
        ),
        pytest.param(
            VALID.replace("{impact: [outage]}", "{regulatory_exposure: maybe}"),
            ["versions.0.rules.0.when.regulatory_exposure (line 10)", "'maybe'"],
            id="regulatory exposure not a bool",
        ),
        pytest.param(
            VALID.replace("{impact: [outage]}", "{impact: [down]}"),
            ["versions.0.rules.0.when.impact.0 (line 10)", "'down'"],
            id="unknown impact kind",
        ),
        pytest.param(
            VALID.replace("{impact: [outage]}", "{impact: null}"),
            [
                "versions.0.rules.0.when (line 10)",
                "'impact' is null; give a value or leave the key",
            ],
            id="null condition",
        ),
        pytest.param(
            VALID.replace("{impact: [outage]}", "{impact: [outage]}\n        any: null"),
            ["versions.0.rules.0 (line 8)", "'any' is null"],
            id="null any",
        ),
        pytest.param(
            VALID.replace("{impact: [outage]}", "{impact: [outage]}\n        any: []"),
            ["versions.0.rules.0.any (line 11)", "at least 1 item"],
            id="empty any",
        ),
        pytest.param(
            VALID.replace("{impact: [outage]}", "{}"),
            ["versions.0.rules.0.when (line 10)", "no conditions given"],
            id="empty when",
        ),
        pytest.param(
            VALID.replace("    when: {impact: [degradation]}\n", ""),
            ["versions.0.rules.1 (line 11)", "a rule needs 'when' and/or 'any'"],
            id="rule without conditions",
        ),
        pytest.param(
            VALID.replace("SEV2", "SEV_").replace("SEV3", "SEV2").replace("SEV_", "SEV3"),
            ["versions.0.rules (line 7)", "rules.1: rule 'degradation' (SEV2) comes after"],
            id="rules not most severe first",
        ),
        pytest.param(
            VALID.replace('- version: "2026.1"', "- version: 2026.1"),
            ["versions.0.version (line 3)", "quote it"],
            id="unquoted version number",
        ),
        pytest.param(
            VALID.replace("id: outage", "id: Outage_Rule"),
            ["versions.0.rules.0.id (line 8)", "use lower-kebab-case", "'Outage_Rule'"],
            id="rule id not kebab-case",
        ),
        pytest.param(
            VALID + "owner: me\n",
            ["owner (line 14)", "unknown key 'owner'"],
            id="unknown top-level key",
        ),
        pytest.param(
            VALID.replace("{impact: [outage]}", "[outage]"),
            [
                "versions.0.rules.0.when (line 10)",
                "expected a mapping of keys to values, got a list",
            ],
            id="conditions not a mapping",
        ),
        pytest.param("- a list\n", ["(top level)", "expected a mapping"], id="not a mapping"),
        pytest.param("", ["(top level)", "expected a mapping", "got nothing"], id="empty file"),
    ],
)
def test_loader_refuses_a_broken_file_naming_file_and_location(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    # given
    path = _write(tmp_path, text)

    # when
    with pytest.raises(ClassificationPolicyError) as raised:
        load_policy_book(path)

    # then
    message = str(raised.value)
    assert message.startswith(f"{path}: invalid classification policy")
    for fragment in expected:
        assert fragment in message
    assert raised.value.path == path


def test_loader_lists_every_schema_problem(tmp_path: Path) -> None:
    # given two independent mistakes
    path = _write(tmp_path, VALID.replace("SEV2", "SEV0").replace("SEV3", "SEV9"))

    # when
    with pytest.raises(ClassificationPolicyError) as raised:
        load_policy_book(path)

    # then
    assert len(raised.value.problems) == 2
    assert "(2 problems)" in str(raised.value)


def test_loader_refuses_a_missing_file(tmp_path: Path) -> None:
    # given
    path = tmp_path / "absent.yaml"

    # when
    with pytest.raises(PolicyFileError) as raised:
        load_policy_book(path)

    # then
    assert isinstance(raised.value, ClassificationPolicyError)
    assert str(raised.value).startswith(f"{path}: invalid classification policy: cannot read")
