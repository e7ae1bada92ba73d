#!/bin/bash
# The unit tests that need no devices, run on aarch64: in an arm64 Debian 12 root under
# qemu-user, with the kiosk's dependencies installed the way the image installs them (a venv
# with the system site packages, built offline from an aarch64 wheelhouse under Debian's numpy
# pin, pyscard compiled from its sdist in the arm64 root). `make test-arm64`; not part of
# `make test` (it takes tens of minutes under emulation). Needs root (chroot, mounts).
#
#   image/test-arm64.sh [PYTEST ARGS...]     (default: the selection below)
#
# Cached under $KIOSK_ARM64_CACHE (default /var/tmp/kiosk-arm64): the root, the wheelhouse and
# the venv are rebuilt only when their inputs change, so a second run only copies the source
# tree and runs the tests. The last run's JUnit XML and log: $KIOSK_ARM64_CACHE/last-run/.
# What passed and how long it took: docs/arm64.md.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${KIOSK_ARM64_CACHE:-/var/tmp/kiosk-arm64}
root=$cache/root-test
wheels=$cache/wheelhouse-test
venv=/opt/kiosk-test/venv              # inside the root
test_timeout=${KIOSK_ARM64_TIMEOUT:-3600}  # the whole pytest run, seconds
mirror=${KIOSK_ARM64_MIRROR:-http://deb.debian.org/debian}

# The arm64 root: what the image's venv and the tests need, and pyscard's build dependencies.
packages=(python3 python3-venv python3-dev python3-numpy gcc libc6-dev swig pkg-config
          libpcsclite-dev libpcsclite1 libusb-1.0-0 fonts-noto-cjk espeak-ng sqlite3
          libfuse3-3 fuse3 ca-certificates openssl)

# The selection: every test that needs no device, no pcscd and no machine set-up, run from the
# source tree. Left out, and why:
#   tests/card, tests/e2e, tests/flows, tests/hw/test_pcsc_parts.py, tests/test_commands.py,
#   tests/test_make_run.py, tests/faults/test_forged_card.py
#                      the card stack (pcscd with the vpcd virtual reader): a device daemon
#   tests/appliance    builds and boots a root with mmdebstrap and systemd-nspawn (host tools)
#   tests/faults       the rest: FUSE file systems (/dev/fuse) and process kills, host set-up
#   tests/liveness/test_session.py, test_shortcuts.py, test_cameras.py
#                      whole liveness sessions: hundreds of model runs each, minutes per test
#                      under qemu-user (one took over 5 minutes); the models load and run on
#                      aarch64 in test_detector.py and test_id_photo.py
#   tests/sync/test_crash.py::test_sigkill_storm_loses_nothing_and_duplicates_nothing
#                      kills and restarts the sync daemon over and over: every Python start
#                      takes seconds under emulation, and it ran into the 300 s test timeout
#   tests/ui           pygame screens: minutes each under emulation; the renderer itself is
#                      checked by tests/printer and tests/test_text_layout.py
#   tests/test_lint.py, tests/test_architecture.py   ruff and mypy: the same on any processor
#   tests/test_docs.py, tests/test_cli_package.py    read the git tree and build the package
selection=(
    tests/test_citizen_id.py tests/test_config.py tests/test_config_safety.py
    tests/test_text_layout.py tests/test_pinyin_input.py tests/test_health_log.py
    tests/test_id_photo.py tests/test_runtime.py
    tests/liveness/test_detector.py tests/liveness/test_models.py tests/liveness/test_units.py
    tests/printer tests/idcard tests/scanner tests/sync tests/provisioning
    tests/card/test_card_protocol.py tests/card/test_pin_rules.py tests/hw/test_ports.py
)
deselect=(--deselect tests/sync/test_crash.py::test_sigkill_storm_loses_nothing_and_duplicates_nothing)

t0=$SECONDS
step() { echo "[test-arm64 +$((SECONDS - t0))s] $*"; }
die() { echo "test-arm64: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root (chroot and mounts): sudo make test-arm64"
# Two shared cores: everything below runs at the lowest CPU and I/O priority.
renice -n 19 -p $$ > /dev/null
ionice -c3 -p $$ 2> /dev/null || true
mkdir -p "$cache"

# Run a command in the root: its own mount namespace (the mounts vanish with it), /proc, /dev,
# the wheelhouse on /mnt/wheels, arm64 binaries through binfmt_misc. No /sys: qemu-user 7.2
# passes the host's (x86) /proc/cpuinfo through, and with /sys present as well the cpuinfo
# library inside ai-edge-litert reads the two, which disagree, and crashes the process
# (SIGSEGV in Interpreter.allocate_tensors). A real aarch64 kernel has no such mismatch.
in_root() {
    # shellcheck disable=SC2016  # expanded by the inner shell
    unshare --mount --propagation private -- bash -ec '
        root=$1 wheels=$2; shift 2
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        mkdir -p "$root/mnt/wheels"
        [[ ! -d $wheels ]] || mount --bind -o ro "$wheels" "$root/mnt/wheels"
        exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
            LANG=C.UTF-8 TZ=Asia/Shanghai "$@"' in_root "$root" "$wheels" "$@"
}

stamp_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

step "1/6 qemu-user for aarch64 (binfmt_misc with the F flag)"
if ! command -v qemu-aarch64-static > /dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static binfmt-support
fi
[[ -e /proc/sys/fs/binfmt_misc/register ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] || update-binfmts --enable qemu-aarch64
grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 || die "qemu-aarch64 is registered but disabled"
grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
    die "qemu-aarch64 lacks the F (fix-binary) flag: it would not run inside a chroot"

step "2/6 the arm64 Debian 12 root ($root)"
root_stamp=$(printf '%s\n' bookworm "$mirror" "${packages[@]}" | sha256sum | cut -c1-16)
if [[ $(cat "$root/.kiosk-stamp" 2> /dev/null) != "$root_stamp" ]]; then
    rm -rf "$root" "$root.tmp"
    mmdebstrap --quiet --arch=arm64 --variant=apt --include="$(IFS=,; echo "${packages[*]}")" \
        bookworm "$root.tmp" "$mirror"
    echo "$root_stamp" > "$root.tmp/.kiosk-stamp"
    mv "$root.tmp" "$root"
    rm -f "$wheels/.kiosk-stamp"
else
    echo "  cached"
fi
[[ $(in_root uname -m) == aarch64 ]] || die "the root does not run as aarch64"

step "3/6 the aarch64 wheelhouse ($wheels)"
wheel_stamp=$(stamp_of "$src/pyproject.toml" "$src/image/make-wheelhouse.sh" "$root/.kiosk-stamp")
if [[ $(cat "$wheels/.kiosk-stamp" 2> /dev/null) != "$wheel_stamp" ]]; then
    rm -rf "$wheels" "$wheels.tmp"
    bash "$src/image/make-wheelhouse.sh" --root "$root" --extras test,sim "$wheels.tmp"
    echo "$wheel_stamp" > "$wheels.tmp/.kiosk-stamp"
    mv "$wheels.tmp" "$wheels"
else
    echo "  cached"
fi

step "4/6 the venv in the root, offline from the wheelhouse (scripts/appliance-venv.sh)"
if [[ $(cat "$root$venv/.kiosk-stamp" 2> /dev/null) != "$wheel_stamp" ]]; then
    rm -rf "${root:?}$venv"
    mkdir -p "$root/tmp/kiosk-scripts"
    cp "$src/scripts/appliance-venv.sh" "$root/tmp/kiosk-scripts/"
    in_root bash /tmp/kiosk-scripts/appliance-venv.sh "$venv" /mnt/wheels 'ssc-kiosk[test,sim]'
    echo "$wheel_stamp" > "$root$venv/.kiosk-stamp"
else
    echo "  cached"
fi
# The kiosk itself from this tree: the wheelhouse's own ssc-kiosk wheel is only as new as the
# wheelhouse (its stamp follows pyproject.toml), and the `kiosk` command the tests run is the
# venv's, not the source tree's.
rm -rf "$cache/kiosk-wheel"
PIP_CONFIG_FILE=/dev/null "$src/.venv/bin/python" -m pip --disable-pip-version-check wheel --quiet \
    --no-deps -w "$cache/kiosk-wheel" "$src"
mkdir -p "$root/tmp/kiosk-wheel"
kiosk_whl=$(basename "$(ls "$cache"/kiosk-wheel/ssc_kiosk-*.whl)")
cp "$cache/kiosk-wheel/$kiosk_whl" "$root/tmp/kiosk-wheel/"
in_root "$venv/bin/python" -m pip --disable-pip-version-check install --quiet --no-index --no-deps \
    --force-reinstall "/tmp/kiosk-wheel/$kiosk_whl"
rm -rf "$root/tmp/kiosk-wheel"
grep -iE '^(ai-edge-litert|numpy|opencv-python-headless|pygame-ce|pyscard)==' "$root$venv/versions.txt" |
    sed 's/^/  /'

step "5/6 the source tree and the face models into the root; pyscard's compiled module"
KIOSK_LIVENESS_MODEL_DIR=$cache/models PYTHON_FOR_PIP=$src/.venv/bin/python \
    bash "$src/scripts/fetch-models.sh" "$cache/models"
rm -rf "$root/src"
mkdir -p "$root/src/models"
git -C "$src" ls-files -z --cached --others --exclude-standard |
    tar -C "$src" --null --ignore-failed-read -T - -cf - 2> /dev/null | tar -xf - -C "$root/src"
cp "$cache"/models/*.tflite "$root/src/models/"
# mmdebstrap writes no /etc/hosts; without it "localhost" does not resolve (the sync tests'
# bureau simulator is https://localhost:PORT).
[[ -s $root/etc/hosts ]] || printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
in_root "$venv/bin/python" - <<'EOF'
import importlib.metadata as md
import platform
import smartcard
from smartcard.scard import SCARD_E_NO_SERVICE, SCARD_S_SUCCESS, SCARD_SCOPE_USER, SCardEstablishContext
from smartcard.scard import _scard  # the module compiled in the root
assert platform.machine() == "aarch64", platform.machine()
tag = md.distribution("pyscard").read_text("WHEEL").split("Tag: ")[1].split()[0]
assert tag.endswith("linux_aarch64"), tag
# Through libpcsclite: no pcscd runs in the root, so "no service" is the right answer.
rc, _ = SCardEstablishContext(SCARD_SCOPE_USER)
assert rc in (SCARD_S_SUCCESS, SCARD_E_NO_SERVICE), hex(rc & 0xFFFFFFFF)
print(f"  pyscard {md.version('pyscard')} ({tag}) on {platform.machine()}: {_scard.__file__}; "
      f"SCardEstablishContext -> {hex(rc & 0xFFFFFFFF)}")
EOF

step "6/6 pytest in the root (timeout ${test_timeout}s)"
args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=("${selection[@]}" "${deselect[@]}")
mkdir -p "$cache/last-run"
rc=0
# shellcheck disable=SC2016  # expanded by the shell in the root
in_root bash -c 'cd /src && exec timeout "$0" "$1/bin/python" -m pytest -p no:cacheprovider -q \
        --junitxml=/tmp/arm64-junit.xml --durations=15 "${@:2}"' \
    "$test_timeout" "$venv" "${args[@]}" 2>&1 | tee "$cache/last-run/pytest.log" || rc=$?
cp "$root/tmp/arm64-junit.xml" "$cache/last-run/junit.xml" 2> /dev/null || true
step "done: pytest exit status $rc (log: $cache/last-run/pytest.log)"
exit "$rc"
