"""Test certificates and the HPKE key pair, generated once into the state directory.

Two CAs, so that the anchor a kiosk trusts for the bureau signs no kiosk certificate (and the
one the bureau trusts for kiosks signs no server): a kiosk-side signer cannot impersonate the
bureau, and a server certificate cannot log in as a kiosk.

Files (PEM unless said otherwise):
  server-ca.pem / server-ca.key       bureau server CA (the kiosk pins server-ca.pem: sync.ca_file)
  kiosk-ca.pem / kiosk-ca.key         kiosk client CA (the bureau verifies kiosks against it)
  server.pem / server.key             server certificate for localhost, 127.0.0.1, ::1 (server CA)
  kiosk-<ID>.pem / kiosk-<ID>.key     client certificate per kiosk id (CN = kiosk id, kiosk CA)
  kiosk-expired.pem / .key            signed by the kiosk CA, CN = first kiosk id, already expired
  rogue-client.pem / .key             CN = first kiosk id, signed by an unrelated CA
  bureau-hpke-private.pem             X25519 private key (PKCS#8) that opens envelopes
  bureau-hpke-public.pem / .raw       its public key (SubjectPublicKeyInfo PEM / 32 raw bytes)
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAY = dt.timedelta(days=1)


SERVER_CA, KIOSK_CA = "server-ca", "kiosk-ca"
_CA_NAMES = {SERVER_CA: "SSC bureau simulator server CA", KIOSK_CA: "SSC bureau simulator kiosk CA"}


@dataclass(frozen=True)
class StateFiles:
    server_ca: Path
    kiosk_ca: Path
    server_cert: Path
    server_key: Path
    kiosk: dict[str, tuple[Path, Path]]
    expired: tuple[Path, Path]
    rogue: tuple[Path, Path]
    hpke_private: Path
    hpke_public_pem: Path
    hpke_public_raw: Path

    def as_dict(self) -> dict[str, str]:
        # "ca" is what a kiosk pins (sync.ca_file): the server CA, never the kiosk CA.
        out = {"ca": str(self.server_ca), "server_ca": str(self.server_ca),
               "kiosk_ca": str(self.kiosk_ca), "server_cert": str(self.server_cert),
               "server_key": str(self.server_key),
               "expired_cert": str(self.expired[0]), "expired_key": str(self.expired[1]),
               "rogue_cert": str(self.rogue[0]), "rogue_key": str(self.rogue[1]),
               "hpke_private": str(self.hpke_private),
               "hpke_public_pem": str(self.hpke_public_pem),
               "hpke_public_raw": str(self.hpke_public_raw)}
        for kiosk_id, (cert, key) in self.kiosk.items():
            out[f"kiosk_cert:{kiosk_id}"] = str(cert)
            out[f"kiosk_key:{kiosk_id}"] = str(key)
        return out


def _write(path: Path, data: bytes, private: bool = False) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SSC bureau simulator"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer_name: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
    sans: list[x509.GeneralName] | None = None,
    is_ca: bool = False,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _ensure_ca(state: Path, stem: str, now: dt.datetime
               ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    if not (state / f"{stem}.pem").exists():
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _issue(_CA_NAMES[stem], ca_key, _name(_CA_NAMES[stem]), ca_key, None,
                         now - _DAY, now + 3650 * _DAY, is_ca=True)
        _write(state / f"{stem}.key", _key_pem(ca_key), private=True)
        _write(state / f"{stem}.pem", _pem(ca_cert))
    cert = x509.load_pem_x509_certificate((state / f"{stem}.pem").read_bytes())
    key = serialization.load_pem_private_key((state / f"{stem}.key").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def ensure(state: Path, kiosk_ids: list[str]) -> StateFiles:
    """Create whatever is missing; existing files are kept so restarts keep their identity.

    A leaf whose issuer is not the CA it belongs to (a state directory from before the CA split,
    when one ca.pem signed everything) is issued again, and the old single CA is removed so that
    nothing goes on pinning it."""
    state.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    server_ca = _ensure_ca(state, SERVER_CA, now)
    kiosk_ca = _ensure_ca(state, KIOSK_CA, now)
    for legacy in ("ca.pem", "ca.key"):
        (state / legacy).unlink(missing_ok=True)

    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    server = _leaf(state, "server", "localhost", ExtendedKeyUsageOID.SERVER_AUTH, now - _DAY,
                   now + 730 * _DAY, (server_ca[0].subject, server_ca[1]), sans)
    client, by_kiosk_ca = ExtendedKeyUsageOID.CLIENT_AUTH, (kiosk_ca[0].subject, kiosk_ca[1])
    kiosks = {k: _leaf(state, f"kiosk-{k}", k, client, now - _DAY, now + 730 * _DAY, by_kiosk_ca)
              for k in kiosk_ids}
    expired = _leaf(state, "kiosk-expired", kiosk_ids[0], client, now - 60 * _DAY, now - 30 * _DAY,
                    by_kiosk_ca)
    rogue_ca = (_name("Rogue CA"), ec.generate_private_key(ec.SECP256R1()))
    rogue = _leaf(state, "rogue-client", kiosk_ids[0], client, now - _DAY, now + 730 * _DAY, rogue_ca)
    hpke_private = _ensure_hpke(state)
    return StateFiles(
        server_ca=state / f"{SERVER_CA}.pem", kiosk_ca=state / f"{KIOSK_CA}.pem",
        server_cert=server[0], server_key=server[1], kiosk=kiosks,
        expired=expired, rogue=rogue, hpke_private=hpke_private,
        hpke_public_pem=state / "bureau-hpke-public.pem",
        hpke_public_raw=state / "bureau-hpke-public.raw",
    )


def _leaf(state: Path, stem: str, subject: str, usage: x509.ObjectIdentifier, start: dt.datetime,
          end: dt.datetime, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey],
          sans: list[x509.GeneralName] | None = None) -> tuple[Path, Path]:
    """<stem>.pem and <stem>.key, kept if they exist and the issuer is still this CA."""
    cert_path, key_path = state / f"{stem}.pem", state / f"{stem}.key"
    name, signer = issuer
    if cert_path.exists() and key_path.exists():
        existing = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if existing.issuer == name:
            return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue(subject, key, name, signer, usage, start, end, sans)
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, _pem(cert))
    return cert_path, key_path


def _ensure_hpke(state: Path) -> Path:
    """The bureau's sealing key pair (X25519), made once: the private PEM's path."""
    hpke_private = state / "bureau-hpke-private.pem"
    if not hpke_private.exists():
        key = X25519PrivateKey.generate()
        public = key.public_key()
        _write(hpke_private, _key_pem(key), private=True)
        _write(state / "bureau-hpke-public.pem", public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        _write(state / "bureau-hpke-public.raw", public.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    return hpke_private


def load_hpke_private(path: Path) -> X25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, X25519PrivateKey):
        raise ValueError(f"{path} is not an X25519 private key")
    return key
