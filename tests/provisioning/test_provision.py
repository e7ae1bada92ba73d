"""`kiosk provision --from DIR` on directories standing in for the USB stick (issue 17 #4): a
blank data store provisioned from a bundle the bureau made, wrong bundles refused with nothing
changed, and the kiosk's sync daemon then reaching the bureau simulator with its new identity."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from kiosk import config, provisioning
from kiosk.provision import bundle, install
from kiosk.provision.checks import BundleError
from kiosk.services.maintenance import verify_pin
from tests.provisioning.conftest import KIOSK_ID, wait_for
from tests.provisioning.helpers import GOOD_PIN, kiosk, load_ca, make_bundle, sign_on_stick, snapshot
from tests.sync import helpers as sync_helpers

REFUSED, REQUESTED = 1, 5


def env(data: Path) -> dict[str, str]:
    return {"KIOSK_CONFIG": "/dev/null", "KIOSK_DATA_DIR": str(data)}


def provision(stick: Path, data: Path, code: int) -> str:
    res = kiosk("provision", "--from", str(stick), env=env(data))
    assert res.returncode == code, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    return res.stdout + res.stderr


def test_a_blank_store_is_provisioned_then_reaches_the_bureau(bureau, daemon, tmp_path):
    state, stick, data = bureau.state, tmp_path / "stick", tmp_path / "data"
    made = make_bundle(stick, state, KIOSK_ID, bureau.url)
    assert made.returncode == 0, made.stderr
    assert GOOD_PIN not in "".join(p.read_text() for p in stick.iterdir())  # only its hash

    # phase 1: the key is made here and stays here; the request goes to the stick
    assert "phase 1 done, not provisioned yet" in provision(stick, data, REQUESTED)
    key_file = install.request_dir(data) / install.KEY
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    csr = x509.load_pem_x509_csr((stick / "kiosk.csr").read_bytes())
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == KIOSK_ID
    assert not list(stick.glob("*.key")) and b"PRIVATE" not in b"".join(p.read_bytes() for p in stick.iterdir())
    assert not provisioning.store_dir(data).exists()
    before = key_file.read_bytes()
    provision(stick, data, REQUESTED)  # again: the same key, so a request already sent stays good
    assert key_file.read_bytes() == before

    # phase 2: the bureau's CA signs; everything is installed into the store
    sign_on_stick(stick, state)
    assert f"provisioned as {KIOSK_ID}" in provision(stick, data, 0)
    store = provisioning.store_dir(data)
    assert stat.S_IMODE((store / "kiosk.key").stat().st_mode) == 0o600
    assert (store / "kiosk.key").read_bytes() == before and not install.request_dir(data).exists()
    assert (store / "bureau-server-ca.pem").read_bytes() == (state / "server-ca.pem").read_bytes()
    cfg = config.load(Path("/dev/null"), environ={"KIOSK_DATA_DIR": str(data)})
    assert cfg["kiosk.id"] == KIOSK_ID and cfg["sync.bureau_url"] == bureau.url
    assert cfg["sync.cert_file"] == str(store / "kiosk.pem") and cfg.sources["sync.key_file"] == "provisioning"
    assert verify_pin(GOOD_PIN, cfg["maintenance.pin_hash"])

    _wrong_bundles_change_nothing(bureau, tmp_path, data)

    # the sync daemon on that store alone: mutual TLS accepted, a submission acknowledged
    from kiosk.sync.outbox import Outbox
    from kiosk.sync.seal import BureauSealer

    proc = daemon(data)
    sealer = BureauSealer.from_pem_file(store / "bureau-sealing-public.pem")
    with Outbox(data, KIOSK_ID, sealer, min_free_mb=1, recover_in_flight=False) as ob:
        receipt = ob.enqueue("card_loss_report", sync_helpers.loss_report())
        wait_for(lambda: not ob.holds(receipt.reference), what="the bureau's acknowledgement")
    assert proc.poll() is None
    stored = {r[0]: r for r in bureau.stored()}
    assert stored[receipt.idempotency_key][1:] == (receipt.reference, "accepted", 1)
    beats = bureau.admin("GET", "/heartbeats")["heartbeats"]
    assert KIOSK_ID in {b["kiosk_id"] for b in beats}


def _wrong_bundles_change_nothing(bureau, tmp_path: Path, data: Path) -> None:
    """On the provisioned store: each wrong bundle is refused and the store stays byte for byte."""
    state = bureau.state

    def fresh(name: str, kiosk_id: str = KIOSK_ID) -> Path:
        stick = tmp_path / name
        assert make_bundle(stick, state, kiosk_id, bureau.url).returncode == 0
        provision(stick, data, REQUESTED)
        return stick

    # the certificate made by another CA than the bundle's kiosk CA (the bureau's server CA)
    stick = fresh("bad-ca")
    before = snapshot(data)
    other = load_ca(state, "server-ca")
    from tests.provisioning.helpers import sign_request

    (stick / "kiosk.pem").write_bytes(sign_request((stick / "kiosk.csr").read_bytes(), other))
    out = provision(stick, data, REFUSED)
    assert "refused, nothing changed: kiosk.pem: not signed by the bundle's kiosk CA" in out
    assert snapshot(data) == before

    # the certificate made out to another kiosk than the bundle's
    stick = fresh("wrong-id")
    before = snapshot(data)
    sign_on_stick(stick, state, common_name="KIOSK-0099")
    assert "made out to 'KIOSK-0099', but the bundle is for 'KIOSK-0042'" in provision(stick, data, REFUSED)
    assert snapshot(data) == before

    # a file changed after the bundle was made
    stick = fresh("tampered")
    sign_on_stick(stick, state)
    before = snapshot(data)
    (stick / "bureau-sealing-public.pem").write_bytes((state / "bureau-hpke-public.pem").read_bytes() + b"\n")
    assert "bureau-sealing-public.pem: does not match its checksum" in provision(stick, data, REFUSED)
    assert snapshot(data) == before

    # a weak PIN never makes a bundle
    res = make_bundle(tmp_path / "weak", state, KIOSK_ID, bureau.url, pin="123456")
    assert res.returncode == 1 and "technician PIN refused" in res.stderr
    assert not (tmp_path / "weak" / bundle.MANIFEST).exists()


def test_a_failure_at_the_switch_leaves_the_store_as_it_was(bureau, tmp_path, monkeypatch):
    state, data = bureau.state, tmp_path / "data"
    provisioning.set_technician_pin(data, "918273")
    stick = tmp_path / "stick"
    found = bundle.make(stick, kiosk_id=KIOSK_ID, bureau_url=bureau.url,
                        kiosk_ca=(state / "kiosk-ca.pem").read_bytes(),
                        server_ca=(state / "server-ca.pem").read_bytes(),
                        sealing_key=(state / "bureau-hpke-public.pem").read_bytes(), pin=GOOD_PIN)
    assert isinstance(install.provision(data, stick), install.Requested)
    sign_on_stick(stick, state)
    before = snapshot(data)

    def broken(a: Path, b: Path) -> None:
        raise OSError(5, "Input/output error", str(b))

    monkeypatch.setattr(install, "_exchange", broken)
    with pytest.raises(OSError):
        install.install(data, found)
    assert snapshot(data) == before  # no staged copy left, the old PIN and the waiting key kept
    monkeypatch.undo()
    done = install.install(data, found)
    assert done.kiosk_id == KIOSK_ID
    pin_hash = provisioning.read(data).values["maintenance.pin_hash"]
    assert verify_pin(GOOD_PIN, pin_hash) and not verify_pin("918273", pin_hash)
    assert sorted(p.name for p in data.iterdir()) == ["provisioning", "provisioning.lock"]


def test_every_bundle_file_is_checked(bureau, tmp_path):
    state = bureau.state
    good = {"kiosk_ca": (state / "kiosk-ca.pem").read_bytes(),
            "server_ca": (state / "server-ca.pem").read_bytes(),
            "sealing_key": (state / "bureau-hpke-public.pem").read_bytes()}
    leaf = (state / "server.pem").read_bytes()
    cases = [({"kiosk_ca": leaf}, "kiosk-ca.pem: not a CA certificate"),
             ({"server_ca": good["kiosk_ca"]}, "must not be the CA that signs kiosks"),
             ({"sealing_key": (state / "bureau-hpke-public.raw").read_bytes()}, "not a PEM public key"),
             ({"sealing_key": x509.load_pem_x509_certificate(leaf).public_key().public_bytes(
                 serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)},
              "an X25519 public key is needed"),
             ({"kiosk_ca": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
              "kiosk-ca.pem: not a valid PEM certificate")]
    for n, (change, words) in enumerate(cases):
        with pytest.raises(BundleError, match=words):
            bundle.make(tmp_path / f"b{n}", kiosk_id=KIOSK_ID, bureau_url=bureau.url,
                        **{**good, **change}, pin=GOOD_PIN)
        assert not (tmp_path / f"b{n}").exists()
    with pytest.raises(BundleError, match="kiosk_id"):
        bundle.make(tmp_path / "id", kiosk_id="", bureau_url=bureau.url, **good, pin=GOOD_PIN)
    with pytest.raises(BundleError, match="bureau_url"):
        bundle.make(tmp_path / "url", kiosk_id=KIOSK_ID, bureau_url="http://x", **good, pin=GOOD_PIN)
    made = bundle.make(tmp_path / "ok", kiosk_id=KIOSK_ID, bureau_url=bureau.url, **good, pin=GOOD_PIN)
    cut = tmp_path / "cut"
    shutil.copytree(made.directory, cut)
    (cut / bundle.MANIFEST).write_bytes((cut / bundle.MANIFEST).read_bytes()[:40])
    with pytest.raises(BundleError, match="not JSON"):
        bundle.read(cut)
    # a certificate for this kiosk's waiting key is needed: none waits on a blank store
    (made.directory / "kiosk.pem").write_bytes((state / f"kiosk-{bureau.kiosk_id}.pem").read_bytes())
    with pytest.raises(BundleError, match="no key waiting"):
        install.provision(tmp_path / "blank", made.directory)
    install.request(tmp_path / "other", made)  # phase 1: a key waits, but not that one
    with pytest.raises(BundleError, match="made for another key"):
        install.install(tmp_path / "other", made)


def test_the_runbooks_openssl_signing_is_accepted(bureau, tmp_path):
    """The desk's commands in docs/runbook-provisioning.md, run as written, sign a request that
    phase 2 then accepts."""
    import re
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    text = (Path(__file__).resolve().parents[2] / "docs" / "runbook-provisioning.md").read_text()
    step = text[text.index("**At the desk: sign the request**"):]
    script = re.search(r"```sh\n(.*?)```", step, re.S)
    assert script and "openssl x509 -req" in script.group(1)
    state, stick, data = bureau.state, tmp_path / "stick", tmp_path / "data"
    assert make_bundle(stick, state, KIOSK_ID, bureau.url).returncode == 0
    assert isinstance(install.provision(data, stick), install.Requested)
    shutil.copy(state / "kiosk-ca.key", stick / "kiosk-ca.key")
    res = subprocess.run(["bash", "-euc", script.group(1)], cwd=stick, capture_output=True, text=True)
    assert res.returncode == 0 and f"CN = {KIOSK_ID}" in res.stdout, res.stderr
    (stick / "kiosk-ca.key").unlink()
    done = install.provision(data, stick)
    assert isinstance(done, install.Installed) and done.kiosk_id == KIOSK_ID
