"""Verify an audit pack offline: no database, no network, only the pack (and, optionally, the
public key the organisation published). Every problem is reported with where it is."""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from govsvc.audit import proofs, signing
from govsvc.audit.chain import event_hash

FIXED = {"manifest.json", "manifest.sig"}


@dataclass
class PackReport:
    problems: list[str] = field(default_factory=list)
    checked_files: int = 0
    checked_events: int = 0
    key_id: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_pack(path: Path, *, trusted_key_pem: str | None = None) -> PackReport:
    report = PackReport()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        report.problems.append(f"{path}: not a readable zip archive ({error})")
        return report
    with archive:
        names = set(archive.namelist())
        for needed in FIXED | {"audit/public-key.pem", "audit/tree-head.json"}:
            if needed not in names:
                report.problems.append(f"{needed}: missing from the pack")
        if report.problems:
            return report
        try:
            manifest_bytes = archive.read("manifest.json")
            key_pem = archive.read("audit/public-key.pem").decode()
            key = signing.load_public_key(trusted_key_pem or key_pem)
        except (zipfile.BadZipFile, OSError, ValueError, zlib.error) as error:
            report.problems.append(f"manifest.json or audit/public-key.pem: unreadable ({error})")
            return report
        report.key_id = signing.key_id(key)
        if trusted_key_pem and signing.key_id(signing.load_public_key(key_pem)) != report.key_id:
            report.problems.append("audit/public-key.pem: not the key you trust")
        try:
            key.verify(bytes.fromhex(archive.read("manifest.sig").decode().strip()), manifest_bytes)
        except (InvalidSignature, ValueError):
            report.problems.append(
                "manifest.sig: the manifest's signature does not verify "
                "(the manifest was changed, or signed by another key)"
            )
            return report
        manifest = json.loads(manifest_bytes)
        _check_files(archive, manifest, names, report)
        try:
            _check_audit(archive, manifest, key, report)
        except (ValueError, KeyError, TypeError, zipfile.BadZipFile, zlib.error) as error:
            # A damaged file is already named above; say why the audit part could not be read.
            report.problems.append(f"audit/: cannot be read ({type(error).__name__}: {error})")
    return report


def _check_files(
    archive: zipfile.ZipFile, manifest: dict[str, Any], names: set[str], report: PackReport
) -> None:
    listed = {entry["path"]: entry for entry in manifest["files"]}
    for name in sorted(names - FIXED - set(listed)):
        report.problems.append(f"{name}: in the pack but not in the manifest")
    for name, entry in sorted(listed.items()):
        if name not in names:
            report.problems.append(f"{name}: listed in the manifest but missing")
            continue
        digest, size = hashlib.sha256(), 0
        try:
            with archive.open(name) as file:
                while chunk := file.read(1024 * 1024):
                    digest.update(chunk)
                    size += len(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
            report.problems.append(f"{name}: damaged in the archive ({error})")
            continue
        if digest.hexdigest() != entry["sha256"] or size != entry["size"]:
            report.problems.append(
                f"{name}: content differs from the manifest "
                f"(sha256 {digest.hexdigest()[:16]}..., {size} bytes)"
            )
        report.checked_files += 1


def _check_audit(
    archive: zipfile.ZipFile, manifest: dict[str, Any], key: Any, report: PackReport
) -> None:
    head = signing.from_json(json.loads(archive.read("audit/tree-head.json")))
    if signing.to_json(head) != manifest["tree_head"]:
        report.problems.append("audit/tree-head.json: differs from the head in the manifest")
    if not signing.verify_tree_head(head, key):
        report.problems.append("audit/tree-head.json: the tree head's signature does not verify")
        return
    by_seq = {
        p.seq: p for p in map(proofs.from_json, json.loads(archive.read("audit/proofs.json")))
    }
    lines = archive.read("audit/events.jsonl").decode().splitlines()
    for number, line in enumerate(lines, start=1):
        where = f"audit/events.jsonl line {number}"
        event = json.loads(line)
        recomputed = event_hash(
            seq=event["seq"],
            at=datetime.fromisoformat(event["at"].replace("Z", "+00:00")),
            actor=event["actor"],
            action=event["action"],
            resource_type=event["resource_type"],
            resource_id=event["resource_id"],
            business_unit=event["business_unit"],
            request_id=event["request_id"],
            payload=event["payload"],
            prev_hash=event["prev_hash"],
        )
        if recomputed != event["hash"]:
            report.problems.append(
                f"{where}: event {event['seq']} does not hash to its "
                "recorded hash (its fields were changed)"
            )
            continue
        proof = by_seq.pop(event["seq"], None)
        if proof is None:
            report.problems.append(f"{where}: event {event['seq']} has no inclusion proof")
        elif proof.event_hash != event["hash"]:
            report.problems.append(f"{where}: the proof is for another event hash")
        elif (why := proofs.explain(proof, head)) is not None:
            report.problems.append(f"{where}: {why}")
        report.checked_events += 1
    for seq in sorted(by_seq):
        report.problems.append(
            f"audit/proofs.json: a proof for event {seq}, which the pack's "
            "events do not contain (an event was removed)"
        )
