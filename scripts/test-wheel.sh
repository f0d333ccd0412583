#!/usr/bin/env bash
# Tests the built wheels as a user gets them (run scripts/build-wheels.sh first):
#   - every wheel: the glibc symbol versions its _core needs are no newer than its manylinux tag
#     allows, and its size (printed; a wheel over $MAX_WHEEL_BYTES fails, e.g. an unstripped build);
#   - the wheel for this machine's architecture: installed into a fresh venv (no system
#     site-packages, dependencies from the index as binary wheels only) whose PATH has no cargo or
#     rustc, then `dtp-gillespie run` on the bundled example and a smoke subset of the tests, run
#     from a copy of tests/ so that they import the installed package, not python/ of this checkout.
#
# Usage: scripts/test-wheel.sh [--no-install] [WHEEL...]
#   default WHEELs: this version's manylinux wheels in dist/;
#   --no-install: only the glibc and size checks (e.g. for a wheel of another architecture).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

SMOKE_TESTS=(tests/test_cli.py tests/test_errors.py tests/test_zarr.py)
MAX_WHEEL_BYTES="${MAX_WHEEL_BYTES:-2097152}" # 2 MiB; the release wheel is about 0.6 MB

die() {
    echo "test-wheel: error: $*" >&2
    exit 1
}
need() { # need COMMAND WHAT-IT-IS-FOR
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH; it is needed $2"
}

need python3 "to create the fresh venv"
need readelf "to read the glibc versions _core needs (on Debian: apt-get install binutils)"
python="$(python3 -c 'import sys; print(sys.executable)')"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "python3 is $("$python" --version 2>&1); the wheel needs Python >= 3.11"

install=1
if [ "${1:-}" = "--no-install" ]; then
    install=0
    shift
fi
if [ "$#" -gt 0 ]; then
    wheels=("$@")
else
    version="$("$python" -c 'import tomllib
print(tomllib.load(open("Cargo.toml", "rb"))["workspace"]["package"]["version"])')"
    shopt -s nullglob
    wheels=(dist/dtp_gillespie-"$version"-*manylinux*.whl)
    shopt -u nullglob
    [ "${#wheels[@]}" -gt 0 ] ||
        die "no manylinux wheel of version $version in dist/; build one with scripts/build-wheels.sh"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# --- every wheel: glibc symbol versions and size ---------------------------------------------
host_wheel=""
for wheel in "${wheels[@]}"; do
    [ -f "$wheel" ] || die "no such wheel: $wheel"
    name="$(basename "$wheel")"
    # The tag's glibc: manylinux_2_17_x86_64 allows symbol versions up to GLIBC_2.17.
    tag_glibc="$(sed -n 's/.*manylinux_2_\([0-9]*\)_.*/2.\1/p' <<<"$name")"
    [ -n "$tag_glibc" ] || die "$name has no manylinux_2_N tag"
    rm -rf "$tmp/unpacked"
    "$python" -m zipfile -e "$wheel" "$tmp/unpacked"
    so="$(find "$tmp/unpacked" -name '_core*.so')"
    [ -f "$so" ] || die "$name has no _core extension"
    # The version needs (.gnu.version_r) are what the dynamic loader checks when it loads _core.
    needed="$(readelf -V -W "$so" | grep -o 'Name: GLIBC_[0-9.]*' | sed 's/Name: GLIBC_//' | sort -uV)"
    [ -n "$needed" ] || die "readelf found no GLIBC version needs in $name's _core (not a glibc build?)"
    newest="$(tail -n1 <<<"$needed")"
    if [ "$(printf '%s\n' "$newest" "$tag_glibc" | sort -V | tail -n1)" != "$tag_glibc" ]; then
        die "$name's _core needs GLIBC_$newest, newer than its tag allows (GLIBC_$tag_glibc)"
    fi
    size="$(stat -c %s "$wheel")"
    echo "wheel: $name: $size bytes ($((size / 1024)) KiB); _core needs GLIBC <= $newest (tag allows $tag_glibc)"
    ((size <= MAX_WHEEL_BYTES)) ||
        die "$name is $size bytes, over the $MAX_WHEEL_BYTES-byte budget (debug info not stripped?)"
    if [[ "$name" == *"_$(uname -m).whl" ]]; then host_wheel="$wheel"; fi
done
[ "$install" = 1 ] || exit 0
[ -n "$host_wheel" ] || die "none of the wheels is for this machine ($(uname -m)); nothing to install"
host_wheel="$(cd "$(dirname "$host_wheel")" && pwd)/$(basename "$host_wheel")"

# --- the host wheel, installed as a user would ------------------------------------------------
echo "== installing $(basename "$host_wheel") into a fresh venv"
venv="$tmp/venv"
"$python" -m venv "$venv"
# PATH as a user without Rust has it: the venv first, then system directories with no cargo/rustc.
clean_path="$venv/bin"
for dir in /usr/local/bin /usr/bin /bin; do
    [ -x "$dir/cargo" ] || [ -x "$dir/rustc" ] || clean_path="$clean_path:$dir"
done
in_venv() { env PATH="$clean_path" VIRTUAL_ENV="$venv" PYTHONNOUSERSITE=1 "$@"; }
for tool in cargo rustc; do
    if in_venv sh -c "command -v $tool" >/dev/null; then die "$tool is still on the test PATH"; fi
done
# The test tools at the versions the package's own test extra asks for.
test_tools=()
while IFS= read -r requirement; do test_tools+=("$requirement"); done < <("$python" -c '
import re, tomllib
extra = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["test"]
print("\n".join(r for r in extra if re.match(r"(pytest|hypothesis)\b", r)))')
# --only-binary: nothing is compiled, as on a machine without compilers.
in_venv python -m pip install -q --disable-pip-version-check --only-binary :all: \
    "$host_wheel" "${test_tools[@]}"

# A copy of the tests and of pytest's settings, outside the checkout: python/ is not reachable.
suite="$tmp/suite"
mkdir -p "$suite"
cp -r tests "$suite/tests"
cp pyproject.toml "$suite/" # for [tool.pytest.ini_options]: warnings are errors, markers
cd "$suite"

installed="$(in_venv python -c 'import dtp_gillespie._core as c, dtp_gillespie as d
print(d.__file__); print(c.__file__)')"
echo "$installed"
while IFS= read -r path; do
    [[ "$path" == "$venv"/lib/python3*/site-packages/dtp_gillespie/* ]] ||
        die "dtp_gillespie was imported from $path, not from the venv's site-packages"
done <<<"$installed"
[[ "$installed" != *"$repo"* ]] || die "the installed package points into the checkout $repo"

echo "== dtp-gillespie run (bundled example, 50 replicates)"
in_venv dtp-gillespie run --replicates 50 --no-progress --out "$tmp/run.zarr"
[ -d "$tmp/run.zarr" ] || die "dtp-gillespie run wrote no store at $tmp/run.zarr"

echo "== smoke tests against the installed wheel: ${SMOKE_TESTS[*]}"
in_venv python -m pytest -p no:cacheprovider -q -n auto "${SMOKE_TESTS[@]}"
