"""Every link in the documentation resolves: relative links in README.md and docs/*.md name files
in this repository, and each unit's Documentation= names a file the appliance image installs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_PATH = re.compile(r"`([^`\s<>*]*/[^`\s<>*]*\.(?:md|yaml|toml|py|sh|service))`")  # a path, not a bare name


def broken_links(doc: Path, root: Path = ROOT) -> list[str]:
    text = doc.read_text(encoding="utf-8")
    bad = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL or an anchor on the same page
        path = (doc.parent / target.split("#")[0]).resolve()
        if not (path.is_relative_to(root) and path.exists()):
            bad.append(f"{doc.name}: link {target}")
    # Paths written as code (`docs/sealed-envelope.md`) are read as links too: relative to the
    # repository root, as the README writes them, or to the document.
    for target in CODE_PATH.findall(text):
        if target.startswith("/"):
            continue  # a path on the installed appliance, not in the repository
        candidates = [(root / target).resolve(), (doc.parent / target).resolve()]
        if not any(p.is_relative_to(root) and p.exists() for p in candidates):
            bad.append(f"{doc.name}: path {target}")
    return bad


def test_the_link_check_finds_a_link_leaving_the_repository(tmp_path):
    """GIVEN a document linking outside the repository and to a missing file THEN both are reported."""
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "DESIGN.md").write_text("outside\n")
    (repo / "docs" / "architecture.md").write_text("inside\n")
    doc = repo / "docs" / "probe.md"
    doc.write_text("See `../shared/DESIGN.md`, [x](nowhere.md), [out](../../shared/DESIGN.md), "
                   "[ok](architecture.md) and `docs/architecture.md`.\n", encoding="utf-8")
    assert broken_links(doc, repo) == ["probe.md: link nowhere.md", "probe.md: link ../../shared/DESIGN.md",
                                       "probe.md: path ../shared/DESIGN.md"]


def test_every_relative_link_in_readme_and_docs_resolves():
    assert (ROOT / "docs" / "architecture.md").exists()
    assert not [bad for doc in DOCS for bad in broken_links(doc)]


def _documentation_uris(unit: Path) -> list[str]:
    uris = []
    for line in unit.read_text(encoding="utf-8").splitlines():
        if line.startswith("Documentation="):
            uris += line.split("=", 1)[1].split()
    return uris


@pytest.fixture(scope="module")
def installed_root(tmp_path_factory) -> Path:
    """A root file system with what scripts/appliance-install.sh puts into the image."""
    missing = [t for t in ("systemd-sysusers", "systemd-tmpfiles", "systemctl") if not shutil.which(t)]
    if missing or os.geteuid() != 0:
        pytest.skip(f"appliance-install.sh needs root and {missing or 'systemd tools'} on this machine")
    root = tmp_path_factory.mktemp("rootfs")
    (root / "etc").mkdir()
    (root / "usr").mkdir()
    subprocess.run(["bash", str(ROOT / "scripts" / "appliance-install.sh"), str(root)], check=True,
                   capture_output=True, timeout=120)
    return root


def test_every_unit_documentation_is_installed_by_the_image(installed_root):
    units = sorted((ROOT / "systemd").glob("*.service"))
    assert units
    for unit in units:
        uris = _documentation_uris(unit)
        assert uris, f"{unit.name} has no Documentation="
        for uri in uris:
            assert uri.startswith("file:///"), f"{unit.name}: {uri} is not a document the image holds"
            installed = installed_root / uri.removeprefix("file:///")
            assert installed.is_file() and installed.stat().st_size > 0, f"{unit.name}: {uri} is not installed"
        assert (installed_root / "usr/lib/systemd/system" / unit.name).is_file()
