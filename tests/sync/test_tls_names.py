"""Whom the kiosk takes for the bureau (issue 13, #6): a name only from subjectAltName, and a
server trust anchor that signs no kiosk certificate.

Each case is a real TLS handshake on a local socket between the kiosk's own client context
(kiosk.sync.client.tls_context) and a server holding a certificate made for the case."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kiosk.sync.client import tls_context
from simulators.bureau import pki

KIOSK_ID = "KIOSK-0001"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The bureau simulator's PKI, made by its own code."""
    path = tmp_path_factory.mktemp("pki")
    return path, pki.ensure(path, [KIOSK_ID]).as_dict()


def _ca_key(path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(path.with_suffix(".pem").read_bytes())
    key = serialization.load_pem_private_key(path.with_suffix(".key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def _server_cert(tmp: Path, issuer: Path, sans: bool) -> tuple[str, str]:
    """A serverAuth certificate with CN=localhost, with or without a subjectAltName."""
    ca_cert, ca_key = _ca_key(issuer)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
               .issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
    cert = builder.sign(ca_key, hashes.SHA256())
    stem = tmp / f"server-{issuer.stem}-{'san' if sans else 'cn'}"
    stem.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    stem.with_suffix(".key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return str(stem.with_suffix(".pem")), str(stem.with_suffix(".key"))


@pytest.fixture
def tls_server() -> Iterator[Callable[[str, str], int]]:
    """start(cert, key) -> port of a one-connection TLS server on 127.0.0.1."""
    threads: list[threading.Thread] = []

    def start(cert: str, key: str) -> int:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        listener = socket.create_server(("127.0.0.1", 0))

        def serve() -> None:
            with listener:
                listener.settimeout(10)
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    try:
                        with ctx.wrap_socket(conn, server_side=True) as tls:
                            tls.sendall(b"hello from the server\n")
                    except (ssl.SSLError, OSError):
                        pass
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return listener.getsockname()[1]
    yield start
    for thread in threads:
        thread.join(10)


def handshake(files: dict[str, str], port: int) -> str:
    """What the kiosk's client context makes of the server: 'accepted' or the refusal."""
    ctx = tls_context(files["ca"], files[f"kiosk_cert:{KIOSK_ID}"], files[f"kiosk_key:{KIOSK_ID}"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.recv(64)
                return "accepted"
        except ssl.SSLCertVerificationError as exc:
            return f"refused: {exc.verify_message}"


def anchors(state_dir: Path) -> tuple[Path, Path]:
    """(the CA behind the kiosk's sync.ca_file, the CA that signs kiosk certificates)."""
    return state_dir / "server-ca", state_dir / "kiosk-ca"


def test_the_simulators_own_server_certificate_is_accepted(state, tls_server) -> None:
    _, files = state
    assert handshake(files, tls_server(files["server_cert"], files["server_key"])) == "accepted"


def test_a_trusted_certificate_named_only_by_its_common_name_is_refused(
        state, tls_server, tmp_path) -> None:
    """GIVEN a certificate from the very CA the kiosk trusts, CN=localhost, no subjectAltName
    THEN the kiosk refuses it: names come from subjectAltName only."""
    state_dir, files = state
    server_ca, _ = anchors(state_dir)
    port = tls_server(*_server_cert(tmp_path, server_ca, sans=False))
    outcome = handshake(files, port)
    print("CN-only certificate:", outcome)
    assert outcome.startswith("refused") and "mismatch" in outcome


def test_a_server_certificate_from_the_kiosk_ca_is_refused(state, tls_server, tmp_path) -> None:
    """GIVEN a well-formed server certificate (SAN localhost) signed by the CA that signs kiosk
    certificates THEN the kiosk refuses it: that CA is not the bureau's server anchor, so a
    stolen or mis-issued kiosk-side signer cannot impersonate the bureau."""
    state_dir, files = state
    _, kiosk_ca = anchors(state_dir)
    port = tls_server(*_server_cert(tmp_path, kiosk_ca, sans=True))
    outcome = handshake(files, port)
    print("kiosk-CA server certificate:", outcome)
    assert outcome.startswith("refused") and "unable to get local issuer" in outcome


def test_the_kiosk_certificates_and_the_server_anchor_have_different_issuers(state) -> None:
    _, files = state
    anchor = x509.load_pem_x509_certificate(Path(files["ca"]).read_bytes())
    kiosk = x509.load_pem_x509_certificate(Path(files[f"kiosk_cert:{KIOSK_ID}"]).read_bytes())
    server = x509.load_pem_x509_certificate(Path(files["server_cert"]).read_bytes())
    assert server.issuer == anchor.subject
    assert kiosk.issuer != anchor.subject


def test_the_bureau_refuses_a_kiosk_certificate_from_the_server_ca(tmp_path) -> None:
    """GIVEN the bureau simulator running over mTLS WHEN a client presents CN=<kiosk id> signed
    by the server CA THEN the handshake fails: the bureau trusts the kiosk CA alone."""
    from kiosk.sync.client import BureauClient, BureauRejected, BureauUnreachable
    from tests.sync.simproc import BureauSim

    sim = BureauSim(tmp_path / "bureau").start()
    try:
        files, state_dir = sim.files, sim.state
        ca_cert, ca_key = _ca_key(state_dir / "server-ca")
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sim.kiosk_id)]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
                .sign(ca_key, hashes.SHA256()))
        (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (tmp_path / "c.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        good = BureauClient(sim.url, sim.kiosk_id, files["ca"],
                            files[f"kiosk_cert:{sim.kiosk_id}"],
                            files[f"kiosk_key:{sim.kiosk_id}"], 5.0)
        body = {"id_number": "110105195803120029", "assurance": {"method": "none"}}
        try:  # the genuine kiosk certificate gets through TLS: any answer of the bureau will do
            good.query("card_status", body)
        except BureauRejected:
            pass
        before = sim.stats().get("tls_refused", 0)
        forged = BureauClient(sim.url, sim.kiosk_id, files["ca"], str(tmp_path / "c.pem"),
                              str(tmp_path / "c.key"), 5.0)
        with pytest.raises(BureauUnreachable):
            forged.query("card_status", body)
        deadline = time.monotonic() + 5  # the server counts the refusal on its own thread
        while sim.stats().get("tls_refused", 0) <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sim.stats().get("tls_refused", 0) == before + 1
    finally:
        sim.stop()
