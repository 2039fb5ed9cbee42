"""Disposition records name the item that left and its hash: a keeper of records in one unit
sees that unit's records, not another's."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest

from govsvc.settings import Settings
from tests.conftest import GraphQL
from tests.graphql import helpers
from tests.graphql.test_holds_access import _evidence

# Waits out a retention period.
pytestmark = pytest.mark.slow

POLICIES = Path(__file__).parents[2] / "policies"
SHORT_RETENTION = """
version: "2026.1"
always: []
default: {id: drill, period: {seconds: 1}, citation: "test drill: one second"}
rules: []
"""


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "retention.yaml").write_text(SHORT_RETENTION)
    return settings.model_copy(update={"policies_dir": policies})


async def test_disposition_records_are_read_per_unit(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given evidence in payments and in retail, disposed of when its second ran out
    group = await helpers.unit(gql, "group")
    units = {code: await helpers.unit(gql, code, group) for code in ("payments", "retail")}
    evidence = {}
    for code, unit_id in units.items():
        service_id = await helpers.service(gql, f"{code}-api", unit_id)
        incident_id = str((await helpers.incident(gql, service_id, title=code))["id"])
        evidence[code] = await _evidence(http, admin_token, incident_id, f"{code} logs")
    await asyncio.sleep(2.5)  # one second, rounded up to a whole second by the store
    swept = await gql("mutation { retentionSweep(input: {dryRun: false}) { disposedEvidenceIds } }")
    assert sorted(swept["retentionSweep"]["disposedEvidenceIds"]) == sorted(evidence.values())
    query = "{ dispositionRecords { evidenceId title } }"
    for role in ("compliance_officer", "auditor"):
        _, token = await helpers.person_with_token(
            gql, f"{role}@example.com", role, units["payments"]
        )
        # when
        records = await gql.as_(token)(query)
        # then
        assert records["dispositionRecords"] == [
            {"evidenceId": evidence["payments"], "title": "payments logs"}
        ], role
    everything = await gql(query)
    assert len(everything["dispositionRecords"]) == 2
