#!/usr/bin/env bash
# Builds the release artefacts into dist/ (or $WHEEL_OUT_DIR), without docker:
#   - one manylinux_2_17 (manylinux2014) abi3 wheel per Linux target, linked by Zig against glibc
#     2.17 symbol versions, so it loads on any glibc >= 2.17 (RHEL/CentOS 7 and 8, old HPC nodes);
#   - the sdist, with its Cargo.lock pruned to the crates it contains (so `--locked` builds work).
#
# Usage: scripts/build-wheels.sh [TARGET...]
#   TARGET is x86_64 or aarch64 (or a full Rust triple such as aarch64-unknown-linux-gnu).
#   Without TARGETs: x86_64, plus aarch64 when its Rust standard library is installed.
# The pinned tools (scripts/wheel-requirements.txt) are installed into target/wheel-tools on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

MANYLINUX=manylinux_2_17 # = manylinux2014; the newest glibc symbol version the wheel may need is 2.17
OUT_DIR="${WHEEL_OUT_DIR:-dist}"
TOOLS=target/wheel-tools
REQUIREMENTS=scripts/wheel-requirements.txt

die() {
    echo "build-wheels: error: $*" >&2
    exit 1
}

need() { # need COMMAND WHAT-IT-IS-FOR
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH; it is needed $2"
}

rust_triple() { # short name or triple -> triple
    case "$1" in
    x86_64 | x86_64-unknown-linux-gnu) echo x86_64-unknown-linux-gnu ;;
    aarch64 | arm64 | aarch64-unknown-linux-gnu) echo aarch64-unknown-linux-gnu ;;
    *) die "unknown target '$1'; expected x86_64 or aarch64 (Linux, glibc)" ;;
    esac
}

rust_target_installed() { # the standard library for the triple is in the toolchain's sysroot
    [ -d "$(rustc --print sysroot)/lib/rustlib/$1/lib" ]
}

need python3 "to install and run the pinned build tools (maturin, ziglang, auditwheel)"
need cargo "to compile the extension (install Rust with rustup)"
need rustc "to compile the extension (install Rust with rustup)"
need tar "to rewrite the sdist"

targets=()
if [ "$#" -eq 0 ]; then
    targets=(x86_64-unknown-linux-gnu)
    if rust_target_installed aarch64-unknown-linux-gnu; then
        targets+=(aarch64-unknown-linux-gnu)
    else
        echo "build-wheels: note: no aarch64 wheel (Rust target aarch64-unknown-linux-gnu not installed;" \
            "'rustup target add aarch64-unknown-linux-gnu' adds it where the network allows)"
    fi
else
    for name in "$@"; do targets+=("$(rust_triple "$name")"); done
fi
for triple in "${targets[@]}"; do
    rust_target_installed "$triple" ||
        die "the Rust standard library for $triple is not installed; run 'rustup target add $triple'" \
            "(it downloads from the Rust distribution server)"
done

# The pinned tools live in a venv of their own; reinstalled whenever the pins change.
stamp="$TOOLS/.requirements"
if ! cmp -s "$REQUIREMENTS" "$stamp" 2>/dev/null; then
    echo "== installing the pinned build tools into $TOOLS"
    rm -rf "$TOOLS"
    python3 -m venv "$TOOLS" || die "python3 cannot create a venv (on Debian: apt-get install python3-venv)"
    "$TOOLS/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS" ||
        die "could not install the tools pinned in $REQUIREMENTS (pip needs to reach PyPI)"
    cp "$REQUIREMENTS" "$stamp"
fi
# maturin finds Zig as `python3 -m ziglang`, so the tools' venv goes first on PATH.
export PATH="$PWD/$TOOLS/bin:$PATH"
zig_version="$(python3 -m ziglang version 2>/dev/null)" ||
    die "the ziglang package in $TOOLS does not run; delete $TOOLS and retry"
echo "== maturin $(maturin --version | cut -d' ' -f2), zig $zig_version, $(rustc --version)"

mkdir -p "$OUT_DIR"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
wheels=()
for triple in "${targets[@]}"; do
    echo "== wheel for $triple ($MANYLINUX, abi3)"
    # --auditwheel check: maturin's compliance check fails the build (rather than silently
    # retagging or bundling libraries) if the extension needs anything the tag does not allow.
    maturin build --release --locked --zig --target "$triple" --compatibility "$MANYLINUX" \
        --auditwheel check --out "$OUT_DIR" 2>&1 | tee "$work/build.log"
    wheels+=("$(sed -n 's/.*Built wheel .* to //p' "$work/build.log")")
    [ -f "${wheels[-1]}" ] || die "maturin did not report the wheel it wrote for $triple"
done

echo "== sdist"
maturin sdist --out "$OUT_DIR" 2>&1 | tee "$work/sdist.log"
sdist="$(sed -n 's/.*Built source distribution to //p' "$work/sdist.log")"
[ -f "$sdist" ] || die "maturin sdist did not report the file it wrote"
# maturin drops the workspace members the package does not need (benches) from the sdist's
# Cargo.toml but ships the whole Cargo.lock, so `cargo build --locked` on the sdist would fail.
# Let cargo prune the lock: it only removes entries, every remaining version stays pinned.
unpacked="$work/sdist"
mkdir "$unpacked"
tar -xzf "$sdist" -C "$unpacked"
root="$(find "$unpacked" -mindepth 1 -maxdepth 1 -type d)"
cargo metadata --offline --format-version 1 --manifest-path "$root/Cargo.toml" >/dev/null
cargo metadata --locked --offline --format-version 1 --manifest-path "$root/Cargo.toml" >/dev/null ||
    die "the sdist's Cargo.lock is still out of date after pruning"
# Repacked reproducibly, with the timestamp maturin gives every file (SOURCE_DATE_EPOCH or its default).
tar --format=pax --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@${SOURCE_DATE_EPOCH:-1153704088}" -C "$unpacked" -c "$(basename "$root")" |
    gzip -n >"$sdist"

echo "== auditwheel show"
for wheel in "${wheels[@]}"; do
    auditwheel show "$wheel" | tee "$work/show.txt"
    tag="$(tr '\n' ' ' <"$work/show.txt" |
        sed -n 's/.*consistent with the following platform tag: *"\([^"]*\)".*/\1/p')"
    glibc_minor="${tag#manylinux_2_}"
    glibc_minor="${glibc_minor%%_*}"
    [[ "$glibc_minor" =~ ^[0-9]+$ ]] && ((glibc_minor <= ${MANYLINUX#manylinux_2_})) ||
        die "auditwheel does not confirm $MANYLINUX for $wheel (it says '${tag:-nothing}')"
done

echo "== built"
ls -l "${wheels[@]}" "$sdist"
