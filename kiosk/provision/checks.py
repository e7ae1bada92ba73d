"""What every file of a provisioning bundle must be, each check answering one plain line.

Refused is raised as BundleError("<file>: <what is wrong>"): the technician reads which file on
the stick is at fault and why, never a traceback. Nothing here writes anything.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAX_FILE_BYTES = 64 * 1024  # a certificate, a key, a hash: never more than a few kilobytes
_EC_CURVES = (ec.SECP256R1, ec.SECP384R1)
_MIN_RSA_BITS = 2048


class BundleError(Exception):
    """A bundle (or a file of it) is refused; str() is one line for the technician. `kind` says
    which sort of refusal it is, for the screens' plain words (kiosk/services/stick_provision.py):
    damaged (a file missing, unreadable or changed), wrong_ca, wrong_id, wrong_key, expired,
    no_request, stick_write, no_stick, or refused (a bundle file of the wrong kind)."""

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind


def read_small(path: Path, name: str | None = None) -> bytes:
    """A bundle file's bytes; missing, unreadable or oversized is a BundleError."""
    label = name or path.name
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise BundleError(f"{label}: missing from {path.parent}", "damaged") from None
    except OSError as exc:
        raise BundleError(f"{label}: cannot be read ({exc.strerror or exc})", "damaged") from None
    if len(data) > MAX_FILE_BYTES:
        raise BundleError(f"{label}: larger than {MAX_FILE_BYTES // 1024} KB, not a bundle file", "damaged")
    return data


def _one_certificate(data: bytes, name: str) -> x509.Certificate:
    if data.count(b"-----BEGIN CERTIFICATE-----") != 1:
        raise BundleError(f"{name}: expected exactly one PEM certificate")
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise BundleError(f"{name}: not a valid PEM certificate ({exc})") from None


def _key_type_problem(key: object) -> str | None:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return None if isinstance(key.curve, _EC_CURVES) else f"EC curve {key.curve.name} not accepted"
    if isinstance(key, rsa.RSAPublicKey):
        return None if key.key_size >= _MIN_RSA_BITS else f"RSA key of {key.key_size} bits is too short"
    return f"key type {type(key).__name__} not accepted (EC P-256/P-384 or RSA >= 2048)"


def _not_expired(cert: x509.Certificate, name: str, now: dt.datetime) -> None:
    # Not "not yet valid": a Pi without its network has no clock worth judging that by.
    if cert.not_valid_after_utc < now:
        raise BundleError(f"{name}: expired on {cert.not_valid_after_utc:%Y-%m-%d}", "expired")


def ca_certificate(data: bytes, name: str, now: dt.datetime | None = None) -> x509.Certificate:
    """A CA certificate: one PEM, CA:TRUE, an accepted key type, not expired."""
    cert = _one_certificate(data, name)
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise BundleError(f"{name}: not a CA certificate (no basic constraints)") from None
    if not basic.ca:
        raise BundleError(f"{name}: not a CA certificate (CA:FALSE)")
    problem = _key_type_problem(cert.public_key())
    if problem:
        raise BundleError(f"{name}: {problem}")
    _not_expired(cert, name, now or dt.datetime.now(dt.UTC))
    return cert


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def kiosk_certificate(data: bytes, name: str, *, kiosk_ca: x509.Certificate, kiosk_id: str,
                      public_key: ec.EllipticCurvePublicKey,
                      now: dt.datetime | None = None) -> x509.Certificate:
    """The kiosk's signed certificate: issued by the bundle's kiosk CA, for our own key, with
    the kiosk id as its name, for TLS clients, not a CA, not expired."""
    cert = _one_certificate(data, name)
    try:
        cert.verify_directly_issued_by(kiosk_ca)
    except (ValueError, TypeError, InvalidSignature):
        raise BundleError(f"{name}: not signed by the bundle's kiosk CA "
                          f"({common_name(kiosk_ca) or kiosk_ca.subject.rfc4514_string()})", "wrong_ca") from None
    mine = public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    theirs = cert.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    if mine != theirs:
        raise BundleError(f"{name}: made for another key, not this kiosk's request "
                          "(an older request, or another kiosk's certificate)", "wrong_key")
    if common_name(cert) != kiosk_id:
        raise BundleError(f"{name}: made out to {common_name(cert)!r}, but the bundle is for {kiosk_id!r}",
                          "wrong_id")
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise BundleError(f"{name}: a CA certificate, not a kiosk's")
    except x509.ExtensionNotFound:
        pass
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
            raise BundleError(f"{name}: not for TLS clients (no clientAuth extended key usage)")
    except x509.ExtensionNotFound:
        pass
    _not_expired(cert, name, now or dt.datetime.now(dt.UTC))
    return cert


def sealing_key(data: bytes, name: str) -> X25519PublicKey:
    """The bureau's sealing key: an X25519 public key in SubjectPublicKeyInfo PEM."""
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise BundleError(f"{name}: not a PEM public key ({exc})") from None
    if not isinstance(key, X25519PublicKey):
        raise BundleError(f"{name}: an X25519 public key is needed, not {type(key).__name__}")
    return key


def private_key(data: bytes, name: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise BundleError(f"{name}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise BundleError(f"{name}: not an EC private key")
    return key
