"""Control catalogs: the real controls/, lookups, loader refusals, CISO Assistant import."""

from __future__ import annotations

import shutil
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta

from govsvc.compliance.catalog import (
    Catalog,
    ControlCatalogError,
    UnknownControl,
    load_catalog,
)
from govsvc.compliance.ciso_assistant import CisoLibraryError, import_ciso_framework
from govsvc.incidents.taxonomy import Taxonomy, load_taxonomy
from govsvc.policy_files import PolicyFileError
from govsvc.retention.rules import load_retention_rules

ROOT = Path(__file__).parents[2]
CONTROLS = ROOT / "controls"
TAXONOMY_FILE = ROOT / "policies" / "taxonomy.yaml"
RETENTION_FILE = ROOT / "policies" / "retention.yaml"
CISO_SAMPLE = Path(__file__).parent / "fixtures" / "ciso-sample.yaml"

REQUIRED = {
    "soc2": ["CC7.2", "CC7.3", "CC7.4", "CC7.5"],
    "iso27001": ["A.5.24", "A.5.25", "A.5.26", "A.5.27", "A.5.28", "A.6.8"],
    "nist-800-53": ["IR-4", "IR-5", "IR-6", "IR-8", "AU-9", "AU-10", "AU-11"],
    "pci-dss": [
        "12.10.1",
        "12.10.2",
        "12.10.3",
        "12.10.4",
        "12.10.5",
        "12.10.6",
        "12.10.7",
        "10.3.4",
        "10.5.1",
    ],
    "hipaa": [
        "164.308(a)(6)",
        "164.308(a)(6)(ii)",
        "164.312(b)",
        "164.316(b)(2)",
        "164.404",
        "164.408",
    ],
    "gdpr": ["Art. 5(1)(e)", "Art. 33", "Art. 34"],
    "sox": ["ITGC-CM-01", "ITGC-CM-02", "ITGC-OP-01", "ITGC-LG-01"],
    "dora": ["Art. 17", "Art. 18", "Art. 19"],
    "nis2": ["Art. 23"],
    "sec-8k": ["Item 1.05"],
    "org-internal": ["ORG-IR-01"],
}

SAMPLE_FRAMEWORK = "urn:govsvc:risk:framework:incident-readiness-sample"
SAMPLE_NODE = "urn:govsvc:risk:req_node:incident-readiness-sample:"


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(TAXONOMY_FILE)


@pytest.fixture(scope="module")
def catalog(taxonomy: Taxonomy) -> Catalog:
    return load_catalog(CONTROLS, taxonomy_tags=taxonomy.tags)


# --- the real catalog ---------------------------------------------------------------------------


@pytest.mark.parametrize(("framework", "ids"), REQUIRED.items())
def test_real_catalog_has_the_required_controls(
    catalog: Catalog, framework: str, ids: list[str]
) -> None:
    # given / when
    listed = [control.id for control in catalog.controls(framework)]

    # then
    assert set(ids) <= set(listed)


def test_real_catalog_frameworks_name_their_source(catalog: Catalog) -> None:
    # given / when
    frameworks = catalog.frameworks

    # then
    assert set(frameworks) == set(REQUIRED)
    assert all(f.name and f.version and f.source for f in frameworks.values())


def test_every_suggested_tag_is_in_the_taxonomy(catalog: Catalog, taxonomy: Taxonomy) -> None:
    # given
    tags = {tag for control in catalog.controls() for tag in control.suggested_by_tags}

    # when
    unknown = tags - taxonomy.tags

    # then
    assert tags
    assert not unknown


def test_every_control_says_what_evidences_it_and_where(catalog: Catalog) -> None:
    # given / when
    native = [control for control in catalog.controls() if control.urn is None]

    # then
    assert native
    assert all(control.evidence_kinds and control.applies_to for control in native)
    assert all(control.objective and "\n" not in control.title for control in native)


def test_personal_data_exposure_suggests_breach_notification(catalog: Catalog) -> None:
    # given
    tags = ["personal-data-exposure"]

    # when
    keys = [control.key for control in catalog.suggest(tags)]

    # then
    assert "gdpr:Art. 33" in keys
    assert "hipaa:164.404" in keys
    assert "sox:ITGC-CM-01" not in keys


def test_suggest_normalizes_tags_and_keeps_catalog_order(catalog: Catalog) -> None:
    # given
    tags = iter([" Deployment ", "deployment"])

    # when
    suggested = catalog.suggest(tags)

    # then
    assert suggested
    assert all("deployment" in control.suggested_by_tags for control in suggested)
    order = [control.key for control in catalog.controls()]
    assert [control.key for control in suggested] == sorted(
        (control.key for control in suggested), key=order.index
    )


def test_suggest_without_tags_suggests_nothing(catalog: Catalog) -> None:
    # given / when
    suggested = catalog.suggest([])

    # then
    assert suggested == []


def test_suggest_refuses_a_lone_string(catalog: Catalog) -> None:
    # given a string, which would otherwise be matched letter by letter
    tags = "dns"

    # when / then
    with pytest.raises(TypeError, match="not a single string"):
        catalog.suggest(tags)


def test_get_finds_a_control_by_key(catalog: Catalog) -> None:
    # given
    key = "hipaa:164.316(b)(2)"

    # when
    control = catalog.get(key)

    # then
    assert (control.framework, control.id, control.key) == ("hipaa", "164.316(b)(2)", key)
    assert control.retention is not None
    assert control.retention.years == 6


def test_get_refuses_an_unknown_key_with_close_matches(catalog: Catalog) -> None:
    # given
    key = "gdpr:Art 33"

    # when
    with pytest.raises(UnknownControl) as raised:
        catalog.get(key)

    # then
    assert raised.value.key == key
    assert "gdpr:Art. 33" in raised.value.suggestions
    assert "did you mean" in str(raised.value)


def test_controls_keep_file_order_and_refuse_unknown_frameworks(catalog: Catalog) -> None:
    # given / when
    ids = [control.id for control in catalog.controls("soc2")]

    # then
    assert ids.index("CC7.2") < ids.index("CC7.3") < ids.index("CC7.4") < ids.index("CC7.5")
    with pytest.raises(LookupError, match="unknown framework 'soc3'"):
        catalog.controls("soc3")


def test_stated_retention_is_no_longer_than_the_enforced_rules(catalog: Catalog) -> None:
    # given the rules that actually keep evidence, and a start date
    rules = load_retention_rules(RETENTION_FILE)
    start = datetime(2026, 1, 1, tzinfo=UTC)

    # when each control's stated period is compared with what its evidence kinds get
    short: list[str] = []
    for control in catalog.controls():
        period = control.retention
        if period is None or not (period.years or period.months or period.days):
            continue
        wanted = start + relativedelta(
            years=period.years or 0, months=period.months or 0, days=period.days or 0
        )
        for kind in control.evidence_kinds:
            decision = rules.decide(kind=kind.value, frameworks=[control.framework], start=start)
            if decision.retain_until < wanted:
                short.append(f"{control.key} {kind.value}: {decision.rule_id}")

    # then a catalog never promises more than retention delivers
    assert short == []


# --- loader refusals ----------------------------------------------------------------------------

VALID = textwrap.dedent(
    """\
    framework: acme
    name: Acme controls
    version: "1"
    source: Acme handbook.
    controls:
      - id: AC-1
        title: Respond
        objective: Incidents are handled.
        evidence_kinds: [ticket, log_export]
        applies_to: [incident]
        suggested_by_tags: [dns]
      - id: AC-2
        title: Review
        objective: Incidents are reviewed.
        evidence_kinds: [document]
        applies_to: [review]
        retention: {years: 2, note: Two years by policy.}
    """
)


def _broken(old: str, new: str) -> str:
    assert old in VALID  # a typo here would test the valid file instead
    return VALID.replace(old, new)


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_directory_loads(tmp_path: Path) -> None:
    # given
    _write(tmp_path, "acme.yaml", VALID)

    # when
    catalog = load_catalog(tmp_path, taxonomy_tags=frozenset({"dns"}))

    # then
    assert list(catalog.frameworks) == ["acme"]
    assert [control.key for control in catalog.controls()] == ["acme:AC-1", "acme:AC-2"]
    retention = catalog.get("acme:AC-2").retention
    assert retention is not None
    assert retention.describe() == "2 years"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _broken("[ticket, log_export]", "[ticket, syslog]"),
            ["controls.0.evidence_kinds.1 (line 9)", "'log_export'", "got 'syslog'"],
            id="unknown evidence kind",
        ),
        pytest.param(
            _broken("applies_to: [review]", "applies_to: [postmortem]"),
            ["controls.1.applies_to.0 (line 16)", "'action_item'", "got 'postmortem'"],
            id="unknown artifact type",
        ),
        pytest.param(
            _broken("id: AC-2", "id: AC-1"),
            ["controls.1.id (line 12)", "control id 'AC-1' is already used by controls.0"],
            id="duplicate control id",
        ),
        pytest.param(
            _broken("[dns]", "[dnss]"),
            [
                "controls.0.suggested_by_tags.0 (line 11)",
                "tag 'dnss' is not in the taxonomy (did you mean 'dns'?)",
            ],
            id="tag not in the taxonomy",
        ),
        pytest.param(
            _broken("[ticket, log_export]", "[ticket, ticket]"),
            ["controls.0.evidence_kinds (line 9)", "listed more than once: ticket"],
            id="repeated evidence kind",
        ),
        pytest.param(
            _broken("framework: acme", "framework: Acme_Controls"),
            ["framework (line 1)", "use lower-kebab-case"],
            id="framework id not kebab-case",
        ),
        pytest.param(
            _broken("    applies_to: [incident]\n", ""),
            ["controls.0.applies_to (line 6)", "required key is missing"],
            id="missing applies_to",
        ),
        pytest.param(
            _broken("{years: 2, note: Two years by policy.}", "{years: 2}"),
            ["controls.1.retention.note (line 17)", "required key is missing"],
            id="retention without a note",
        ),
        pytest.param(
            _broken("    title: Review\n", "    title: Review\n    owner: ops\n"),
            ["controls.1.owner (line 14)", "unknown key 'owner'"],
            id="unknown key",
        ),
        pytest.param(
            _broken("title: Respond", "title: [Respond"),
            ["line 8, column", "YAML error"],
            id="yaml syntax",
        ),
    ],
)
def test_a_broken_catalog_is_refused_naming_file_and_line(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    # given
    path = _write(tmp_path, "acme.yaml", text)

    # when
    with pytest.raises(ControlCatalogError) as raised:
        load_catalog(tmp_path, taxonomy_tags=frozenset({"dns"}))

    # then
    message = str(raised.value)
    assert message.startswith(f"{path}: invalid control catalog")
    for part in expected:
        assert part in message
    assert isinstance(raised.value, PolicyFileError)


def test_tags_are_not_checked_without_a_taxonomy(tmp_path: Path) -> None:
    # given
    _write(tmp_path, "acme.yaml", _broken("[dns]", "[not-a-known-tag]"))

    # when
    catalog = load_catalog(tmp_path)

    # then
    assert catalog.get("acme:AC-1").suggested_by_tags == ("not-a-known-tag",)


def test_a_framework_defined_in_two_files_is_refused(tmp_path: Path) -> None:
    # given
    _write(tmp_path, "a-acme.yaml", VALID)
    second = _write(tmp_path, "b-acme.yaml", "# the same framework again\n" + VALID)

    # when
    with pytest.raises(ControlCatalogError) as raised:
        load_catalog(tmp_path)

    # then
    assert raised.value.path == second
    assert "framework (line 2): framework 'acme' is already defined in a-acme.yaml" in str(
        raised.value
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param({}, "no *.yaml control catalogs", id="empty directory"),
        pytest.param({"acme.yml": VALID}, "rename to *.yaml", id="yml extension"),
    ],
)
def test_a_directory_without_usable_catalogs_is_refused(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    # given
    for name, text in files.items():
        _write(tmp_path, name, text)

    # when
    with pytest.raises(ControlCatalogError) as raised:
        load_catalog(tmp_path)

    # then
    assert expected in str(raised.value)


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    # given
    missing = tmp_path / "nowhere"

    # when
    with pytest.raises(ControlCatalogError) as raised:
        load_catalog(missing)

    # then
    assert str(raised.value) == f"{missing}: invalid control catalog: not a directory"


# --- CISO Assistant libraries -------------------------------------------------------------------


def test_ciso_import_keeps_urns_and_only_assessable_nodes() -> None:
    # given a library with three headings, one non-assessable group and five requirements

    # when
    imported = import_ciso_framework(CISO_SAMPLE)

    # then
    assert [control.key for control in imported.controls] == [
        SAMPLE_NODE + suffix for suffix in ("1.1", "1.2", "2.1.a", "2.1.b", "3.1")
    ]
    assert all(control.urn == control.key for control in imported.controls)
    assert {control.framework for control in imported.controls} == {SAMPLE_FRAMEWORK}
    assert imported.framework.id == SAMPLE_FRAMEWORK
    assert imported.framework.name == "Incident readiness sample"
    assert imported.framework.version == "2"
    assert "urn:govsvc:risk:library:incident-readiness-sample" in imported.framework.source


def test_ciso_import_maps_ref_id_name_description_and_parent_chain() -> None:
    # given
    imported = import_ciso_framework(CISO_SAMPLE)

    # when
    by_id = {control.id: control for control in imported.controls}

    # then
    customer = by_id["2.1.a"]
    assert customer.title == "Customer updates"
    assert customer.objective.startswith("Affected customers hear about the incident")
    assert customer.path == "2 Respond > 2.1 Communication"
    unnamed = by_id["1.2"]
    assert unnamed.title.startswith("Runbooks for the most likely failures")
    assert unnamed.path == "1 Prepare"


def test_a_ciso_library_in_the_directory_joins_the_catalog(tmp_path: Path) -> None:
    # given
    _write(tmp_path, "acme.yaml", VALID)
    shutil.copy(CISO_SAMPLE, tmp_path / "ciso-sample.yaml")

    # when
    catalog = load_catalog(tmp_path, taxonomy_tags=frozenset({"dns"}))

    # then
    assert list(catalog.frameworks) == ["acme", SAMPLE_FRAMEWORK]
    assert catalog.get(SAMPLE_NODE + "3.1").title == "Post-incident review"
    assert len(catalog.controls(SAMPLE_FRAMEWORK)) == 5


def _sample_with(old: str, new: str) -> str:
    text = CISO_SAMPLE.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _sample_with(f"urn: {SAMPLE_NODE}1.2\n", f"urn: {SAMPLE_NODE}1.1\n"),
            [
                "objects.framework.requirement_nodes.2.urn (line 48)",
                "is already used by requirement_nodes.1",
            ],
            id="duplicate node urn",
        ),
        pytest.param(
            _sample_with(f"parent_urn: {SAMPLE_NODE}learn", f"parent_urn: {SAMPLE_NODE}lern"),
            [
                "objects.framework.requirement_nodes.8.parent_urn (line 88)",
                "is not a requirement node of this framework",
            ],
            id="unknown parent",
        ),
        pytest.param(
            _sample_with("        assessable: false\n        depth: 1\n", "        depth: 1\n"),
            ["objects.framework.requirement_nodes.0.assessable", "required key is missing"],
            id="node without assessable",
        ),
        pytest.param(
            _sample_with("  framework:\n", "  frame_work:\n"),
            ["objects.framework (line 18)", "required key is missing"],
            id="no framework",
        ),
    ],
)
def test_a_broken_ciso_library_is_refused_naming_file_and_line(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    # given
    path = _write(tmp_path, "ciso.yaml", text)

    # when
    with pytest.raises(CisoLibraryError) as raised:
        load_catalog(tmp_path)

    # then
    message = str(raised.value)
    assert message.startswith(f"{path}: invalid CISO Assistant library")
    for part in expected:
        assert part in message
    assert isinstance(raised.value, ControlCatalogError)
