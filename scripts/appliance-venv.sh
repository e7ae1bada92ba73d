#!/bin/bash
# Create the kiosk's venv and install the package into it, offline, inside the target system
# (run in a chroot or `systemd-nspawn -D ROOT`). Used by the image layer and the boot test.
#
#   scripts/appliance-venv.sh VENV WHEELHOUSE [PACKAGE...]
#   scripts/appliance-venv.sh --print-constraints      (for building the wheelhouse: pip wheel -c)
#
# The venv sees the system site packages (picamera2 and libcamera come from the OS). Compiled
# Debian modules were built against Debian's numpy, so numpy is pinned to the version dpkg
# installed: a constraints file is written from dpkg at build time, never by hand.
set -euo pipefail

# Python packages that Debian's compiled modules were built against: "name==version" from dpkg.
debian_constraints() {
    local pinned_debs=(python3-numpy) deb version
    for deb in "${pinned_debs[@]}"; do
        version=$(dpkg-query -W -f '${Version}' "$deb" 2>/dev/null || true)
        [[ -n $version ]] || continue
        version=${version#*:}   # epoch
        version=${version%-*}   # Debian revision
        version=${version%%+*}  # +dfsg and similar repack suffixes
        echo "${deb#python3-}==$version"
    done
}

if [[ ${1:-} == --print-constraints ]]; then
    debian_constraints
    exit 0
fi

[[ $# -ge 2 ]] || { echo "usage: $0 VENV WHEELHOUSE [PACKAGE...] | --print-constraints" >&2; exit 2; }
venv=$1
wheelhouse=$2
shift 2
packages=("$@")
[[ ${#packages[@]} -gt 0 ]] || packages=(ssc-kiosk)

if [[ ! -x $venv/bin/python ]]; then
    python3 -m venv --system-site-packages "$venv"
fi

constraints=$venv/constraints-debian.txt
debian_constraints > "$constraints"

PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --quiet --no-index \
    --no-cache-dir --find-links "$wheelhouse" --constraint "$constraints" "${packages[@]}"

# What the image shipped, for the SBOM and for a technician: `cat /opt/kiosk/venv/versions.txt`.
"$venv/bin/python" -m pip freeze --all > "$venv/versions.txt"
