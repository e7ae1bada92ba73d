"""The bureau's side of provisioning for the tests: a bundle made with `kiosk provision bundle`
from the files the bureau simulator writes (simulators/bureau/pki.py), and the signing of a
kiosk's request with the simulator's kiosk CA (kiosk-ca.pem / kiosk-ca.key in its state
directory), as the bureau's CA would: CN from the request, clientAuth, CA:FALSE."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = Path(__file__).resolve().parents[2]
KIOSK = str(Path(sys.executable).parent / "kiosk")
GOOD_PIN = "270394"


def kiosk(*args: str, env: dict[str, str] | None = None, input: str | None = None
          ) -> subprocess.CompletedProcess[str]:
    """The installed `kiosk` command, as a technician runs it."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_") and k != "NOTIFY_SOCKET"}
    return subprocess.run([KIOSK, *args], env={**base, **(env or {})}, capture_output=True, text=True,
                          check=False, timeout=60, cwd=ROOT, input=input if input is not None else "")


def make_bundle(stick: Path, state: Path, kiosk_id: str, bureau_url: str, pin: str = GOOD_PIN,
                kiosk_ca: Path | None = None) -> subprocess.CompletedProcess[str]:
    return kiosk("provision", "bundle", str(stick), "--kiosk-id", kiosk_id, "--bureau-url", bureau_url,
                 "--kiosk-ca", str(kiosk_ca or state / "kiosk-ca.pem"),
                 "--server-ca", str(state / "server-ca.pem"),
                 "--sealing-key", str(state / "bureau-hpke-public.pem"), input=f"{pin}\n")


def load_ca(state: Path, stem: str = "kiosk-ca") -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((state / f"{stem}.pem").read_bytes())
    key = serialization.load_pem_private_key((state / f"{stem}.key").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def sign_request(csr_pem: bytes, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
                 common_name: str | None = None, days: int = 730) -> bytes:
    """The bureau CA's answer to a kiosk's request (common_name: a CA that got it wrong)."""
    csr = x509.load_pem_x509_csr(csr_pem)
    assert csr.is_signature_valid
    subject = csr.subject if common_name is None else x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca[0].subject)
            .public_key(csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca[1], hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def sign_on_stick(stick: Path, state: Path, **kw: object) -> Path:
    """The bureau signs the stick's kiosk.csr and puts kiosk.pem back beside it."""
    out = stick / "kiosk.pem"
    out.write_bytes(sign_request((stick / "kiosk.csr").read_bytes(), load_ca(state), **kw))  # type: ignore[arg-type]
    return out


def snapshot(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under root with its mode and contents: "nothing changed" made checkable."""
    out: dict[str, tuple[int, bytes | None]] = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        out[str(path.relative_to(root))] = (st.st_mode, path.read_bytes() if path.is_file() else None)
    return out


def provisioned(data: Path, stick: Path, state: Path, kiosk_id: str, bureau_url: str) -> Path:
    """A data store provisioned through both phases (in process: the CLI is tested elsewhere);
    returns the store."""
    from kiosk.provision import bundle, install

    bundle.make(stick, kiosk_id=kiosk_id, bureau_url=bureau_url,
                kiosk_ca=(state / "kiosk-ca.pem").read_bytes(),
                server_ca=(state / "server-ca.pem").read_bytes(),
                sealing_key=(state / "bureau-hpke-public.pem").read_bytes(), pin=GOOD_PIN)
    assert isinstance(install.provision(data, stick), install.Requested)
    sign_on_stick(stick, state)
    done = install.provision(data, stick)
    assert isinstance(done, install.Installed)
    return done.store
