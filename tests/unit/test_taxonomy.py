"""The controlled tag taxonomy: the real file, tag checks, and loader refusals."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest

from govsvc.incidents.taxonomy import Taxonomy, TaxonomyError, UnknownTag, load_taxonomy
from govsvc.policy_files import PolicyFileError

TAXONOMY_FILE = Path(__file__).parents[2] / "policies" / "taxonomy.yaml"

REQUIRED_TAGS = [
    "personal-data-exposure",
    "payment-failure",
    "third-party",
    "deployment",
    "configuration-change",
    "capacity",
    "network",
    "database",
    "dns",
    "certificate-expiry",
    "security",
    "customer-reported",
    "synthetic-monitoring",
    "alert",
    "data-loss",
    "regulatory-reportable",
]


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(TAXONOMY_FILE)


# --- the real taxonomy --------------------------------------------------------------------------


@pytest.mark.parametrize("tag", REQUIRED_TAGS)
def test_real_taxonomy_has_the_required_tags(taxonomy: Taxonomy, tag: str) -> None:
    # given / when
    tags = taxonomy.tags

    # then
    assert tag in tags


def test_real_taxonomy_tags_are_kebab_case_with_one_line_descriptions(taxonomy: Taxonomy) -> None:
    # given
    kebab = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

    # when
    described = {tag: taxonomy.describe(tag) for tag in taxonomy.tags}

    # then
    assert all(kebab.match(tag) for tag in described)
    assert all(text.strip() and "\n" not in text for text in described.values())


@pytest.mark.parametrize(
    ("tag", "group"),
    [
        ("deployment", "cause"),
        ("third-party", "cause"),
        ("dns", "component"),
        ("payment-failure", "impact"),
        ("customer-reported", "detection"),
        ("regulatory-reportable", "regulatory"),
    ],
)
def test_group_of_names_the_group_listing_the_tag(taxonomy: Taxonomy, tag: str, group: str) -> None:
    # given / when
    found = taxonomy.group_of(tag)

    # then
    assert found == group
    assert tag in taxonomy.tags_in(group)


def test_every_tag_belongs_to_exactly_one_group(taxonomy: Taxonomy) -> None:
    # given
    listed = [tag for group in taxonomy.groups for tag in taxonomy.tags_in(group)]

    # when
    unique = set(listed)

    # then
    assert len(listed) == len(unique)
    assert unique == taxonomy.tags


def test_describe_returns_the_description(taxonomy: Taxonomy) -> None:
    # given
    tag = "  DNS "

    # when
    description = taxonomy.describe(tag)

    # then
    assert description == "Name resolution, internal or public."


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(["dns"], ["dns"], id="already canonical"),
        pytest.param([" DNS ", "Database"], ["database", "dns"], id="stripped and lower-cased"),
        pytest.param(["dns", "DNS", " dns"], ["dns"], id="de-duplicated after normalizing"),
        pytest.param(
            ["network", "alert", "capacity"], ["alert", "capacity", "network"], id="sorted"
        ),
        pytest.param([], [], id="none"),
        pytest.param(iter(["Security", "security"]), ["security"], id="any iterable"),
    ],
)
def test_check_normalizes_tags(
    taxonomy: Taxonomy, given: Iterable[str], expected: list[str]
) -> None:
    # given a taxonomy and tags as a user typed them

    # when
    checked = taxonomy.check(given)

    # then
    assert checked == expected


@pytest.mark.parametrize(
    ("given", "unknown"),
    [
        pytest.param(["outage-ish"], "outage-ish", id="made up"),
        pytest.param(["dns", "Databse ", "nope"], "databse", id="first unknown, normalized"),
        pytest.param(["dns", "  "], "", id="blank"),
        pytest.param(["data_loss"], "data_loss", id="snake case is not kebab case"),
    ],
)
def test_check_refuses_unknown_tags(taxonomy: Taxonomy, given: list[str], unknown: str) -> None:
    # given a list with an unknown tag

    # when
    with pytest.raises(UnknownTag) as raised:
        taxonomy.check(given)

    # then
    assert raised.value.tag == unknown
    assert repr(unknown) in str(raised.value)


def test_unknown_tag_suggests_close_spellings(taxonomy: Taxonomy) -> None:
    # given
    typo = "databse"

    # when
    with pytest.raises(UnknownTag) as raised:
        taxonomy.check([typo])

    # then
    assert "database" in raised.value.suggestions
    assert "did you mean 'database'" in str(raised.value)


@pytest.mark.parametrize("lookup", ["group_of", "describe"])
def test_lookups_refuse_unknown_tags(taxonomy: Taxonomy, lookup: str) -> None:
    # given
    method = getattr(taxonomy, lookup)

    # when
    with pytest.raises(UnknownTag) as raised:
        method("no-such-tag")

    # then
    assert raised.value.tag == "no-such-tag"


def test_check_refuses_a_lone_string(taxonomy: Taxonomy) -> None:
    # given a string, which would otherwise be checked letter by letter
    tags = "dns"

    # when / then
    with pytest.raises(TypeError, match="not a single string"):
        taxonomy.check(tags)


# --- loader refusals ----------------------------------------------------------------------------

VALID = textwrap.dedent(
    """\
    version: "2026.1"
    groups:
      cause:
        deployment: A deployment introduced the fault.
        capacity: Demand exceeded capacity.
      component:
        dns: Name resolution.
    """
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_loads(tmp_path: Path) -> None:
    # given
    path = _write(tmp_path, VALID)

    # when
    taxonomy = load_taxonomy(path)

    # then
    assert taxonomy.version == "2026.1"
    assert taxonomy.groups == ("cause", "component")
    assert taxonomy.tags == {"deployment", "capacity", "dns"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            VALID.replace("dns: Name resolution.", "dns: [Name resolution."),
            ["line 8, column 1", "YAML error"],
            id="yaml syntax",
        ),
        pytest.param(
            VALID.replace("  component:", "    deployment: Again.\n  component:"),
            ["line 6, column 5", "duplicate key 'deployment' (first on line 4)"],
            id="duplicate tag within a group",
        ),
        pytest.param(
            VALID + "  cause:\n    security: A second cause group.\n",
            ["line 8, column 3", "duplicate key 'cause' (first on line 3)"],
            id="duplicate group",
        ),
        pytest.param(
            VALID + "  impact:\n    deployment: Listed in two groups.\n",
            ["groups (line 2)", "tag 'deployment' is in both group 'cause' and 'impact'"],
            id="duplicate tag across groups",
        ),
        pytest.param(
            VALID.replace("dns:", "DNS_Records:"),
            ["groups.component.DNS_Records.[key] (line 7)", "use lower-kebab-case"],
            id="tag not kebab-case",
        ),
        pytest.param(
            VALID.replace("  component:", "  Component:"),
            ["groups.Component.[key] (line 6)", "use lower-kebab-case"],
            id="group not kebab-case",
        ),
        pytest.param(
            VALID.replace("dns: Name resolution.", "dns: ''"),
            ["groups.component.dns (line 7)", "at least 1 character"],
            id="empty description",
        ),
        pytest.param(
            VALID.replace("dns: Name resolution.", "dns: |\n      Name\n      resolution."),
            ["groups.component.dns (line 7)", "String should match pattern"],
            id="multi-line description",
        ),
        pytest.param(
            VALID.replace("dns: Name resolution.", "dns: {text: Name resolution.}"),
            ["groups.component.dns (line 7)", "valid string"],
            id="description not a string",
        ),
        pytest.param(
            VALID + "  detection: {}\n",
            ["groups.detection (line 8)", "at least 1 item"],
            id="empty group",
        ),
        pytest.param(
            VALID.replace('version: "2026.1"\n', ""),
            ["version", "required key is missing"],
            id="missing version",
        ),
        pytest.param(
            VALID + "owner: me\n",
            ["owner (line 8)", "unknown key 'owner'"],
            id="unknown top-level key",
        ),
        pytest.param(
            VALID.replace("  component:\n    dns: Name resolution.\n", "  component: [dns]\n"),
            ["groups.component (line 6)", "expected a mapping of keys to values, got a list"],
            id="group is a list",
        ),
        pytest.param("", ["(top level)", "got nothing"], id="empty file"),
    ],
)
def test_loader_refuses_a_broken_file_naming_file_and_location(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    # given
    path = _write(tmp_path, text)

    # when
    with pytest.raises(TaxonomyError) as raised:
        load_taxonomy(path)

    # then
    message = str(raised.value)
    assert message.startswith(f"{path}: invalid tag taxonomy")
    for fragment in expected:
        assert fragment in message
    assert isinstance(raised.value, PolicyFileError)


def test_loader_refuses_a_missing_file(tmp_path: Path) -> None:
    # given
    path = tmp_path / "absent.yaml"

    # when
    with pytest.raises(TaxonomyError) as raised:
        load_taxonomy(path)

    # then
    assert str(raised.value).startswith(f"{path}: invalid tag taxonomy: cannot read")
