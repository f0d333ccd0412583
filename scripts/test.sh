#!/usr/bin/env bash
# The whole test suite: installs the package with its test extras, runs the engine's Rust tests and
# the Python tests. DTP_DEEP=1 selects the deep statistical tier and hypothesis profile.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[test]"
cargo test --workspace --exclude dtp_gillespie_py
python -m pytest -p no:cacheprovider "$@"
