"""Signed certificates through the real CLI: ``certify keygen``, ``certify … --sign``,
``certify verify`` (exit 0 valid, 1 invalid or tampered, 2 usage)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fakes.serve import free_port
from tests.certify.broken_vendors import start_vendor


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lienthong", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A certificate of the reference VSS (security phase) signed with a fresh key, and two
    public keys: the signer's and another one."""
    root = tmp_path_factory.mktemp("signing")
    made = _cli("certify", "keygen", str(root / "keys"), cwd=root)
    assert made.returncode == 0, made.stdout + made.stderr
    other = _cli("certify", "keygen", str(root / "other"), cwd=root)
    assert other.returncode == 0
    port = free_port()
    vendor = start_vendor("vss", "reference", f"http://127.0.0.1:{port}")
    try:
        run = _cli("certify", "vss", "--base-url", vendor.base_url, "--ecosystem-port", str(port),
                   "--phases", "security", "--out", str(root / "cert"),
                   "--sign", str(root / "keys" / "certify-signing.key"), cwd=root)
    finally:
        vendor.stop()
    assert run.returncode == 3, run.stdout + run.stderr
    assert "signed by key" in run.stdout
    return (root / "cert" / "certificate.json", root / "keys" / "certify-signing.pub",
            root / "other" / "certify-signing.pub")


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(tmp_path: Path) -> None:
    assert _cli("certify", "keygen", str(tmp_path), cwd=tmp_path).returncode == 0
    key = tmp_path / "certify-signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    again = _cli("certify", "keygen", str(tmp_path), cwd=tmp_path)
    assert again.returncode == 2 and "not overwriting a key" in again.stdout


def test_a_signed_certificate_verifies(signed: tuple[Path, Path, Path]) -> None:
    cert, pub, _ = signed
    doc = json.loads(cert.read_text(encoding="utf-8"))
    assert doc["signature"]["algorithm"] == "Ed25519" and doc["verdict"] == "CONDITIONAL PASS"
    ok = _cli("certify", "verify", str(cert), "--pubkey", str(pub), cwd=cert.parent)
    assert ok.returncode == 0, ok.stdout
    assert ok.stdout.startswith("VALID")
    assert f"signature by key {doc['signature']['key_id']} verifies" in ok.stdout
    folder = _cli("certify", "verify", str(cert.parent), cwd=cert.parent)  # the folder will do
    assert folder.returncode == 0 and "pass --pubkey to check whose key it is" in folder.stdout


def test_one_byte_of_the_verdict_flipped_fails(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    cert, pub, _ = signed
    raw = cert.read_bytes()
    at = raw.index(b'"verdict": "CONDITIONAL PASS"') + len(b'"verdict": "')
    forged = tmp_path / "certificate.json"
    forged.write_bytes(raw[:at] + b"D" + raw[at + 1:])  # "DONDITIONAL PASS"
    bad = _cli("certify", "verify", str(forged), "--pubkey", str(pub), cwd=tmp_path)
    assert bad.returncode == 1, bad.stdout
    assert bad.stdout.startswith("INVALID") and "sha256 does not match the content" in bad.stdout
    assert "signature does not verify" in bad.stdout


def test_a_rehashed_edit_still_fails_on_the_signature(signed: tuple[Path, Path, Path],
                                                      tmp_path: Path) -> None:
    """Someone edits the verdict and recomputes sha256 (anyone can): the signature catches it."""
    cert, pub, _ = signed
    doc = json.loads(cert.read_text(encoding="utf-8"))
    doc["verdict"], doc["exit_code"] = "PASS", 0
    rest = {k: v for k, v in doc.items() if k not in ("sha256", "signature")}
    doc["sha256"] = hashlib.sha256(json.dumps(rest, sort_keys=True, separators=(",", ":"),
                                              ensure_ascii=False).encode()).hexdigest()
    forged = tmp_path / "certificate.json"
    forged.write_text(json.dumps(doc), encoding="utf-8")
    bad = _cli("certify", "verify", str(forged), "--pubkey", str(pub), cwd=tmp_path)
    assert bad.returncode == 1 and "matches the content" in bad.stdout
    assert "the Ed25519 signature does not verify" in bad.stdout


def test_the_wrong_public_key_fails(signed: tuple[Path, Path, Path]) -> None:
    cert, _, other = signed
    bad = _cli("certify", "verify", str(cert), "--pubkey", str(other), cwd=cert.parent)
    assert bad.returncode == 1 and "not by the --pubkey given" in bad.stdout


def test_unsigned_with_a_pubkey_fails_and_bad_input_is_2(signed: tuple[Path, Path, Path],
                                                         tmp_path: Path) -> None:
    cert, pub, _ = signed
    doc = json.loads(cert.read_text(encoding="utf-8"))
    del doc["signature"]
    plain = tmp_path / "certificate.json"
    plain.write_text(json.dumps(doc), encoding="utf-8")
    assert _cli("certify", "verify", str(plain), cwd=tmp_path).returncode == 0  # the hash holds
    asked = _cli("certify", "verify", str(plain), "--pubkey", str(pub), cwd=tmp_path)
    assert asked.returncode == 1 and "not signed" in asked.stdout
    assert _cli("certify", "verify", str(tmp_path / "nope.json"), cwd=tmp_path).returncode == 2
    assert _cli("certify", "verify", str(plain), "--pubkey", str(plain), cwd=tmp_path).returncode == 2
    sign_bad = _cli("certify", "vss", "--base-url", "http://127.0.0.1:9", "--sign", str(pub), cwd=tmp_path)
    assert sign_bad.returncode == 2 and "signing key" in sign_bad.stdout
