#!/usr/bin/env bash
# The whole test suite: installs the package with its test extras, runs the engine's Rust tests,
# checks the stub of the compiled engine against it (mypy.stubtest) and the package's types
# (mypy --strict), and runs the Python tests.
# DTP_DEEP=1 selects the deep statistical tier and hypothesis profile. The Python tests run on
# every core (pytest-xdist, -n auto); arguments go to pytest, so -n 0 runs them in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[test]"
cargo test --workspace --exclude dtp_gillespie_py
# The stub of the compiled engine (_core.pyi) matches the module that was built.
python -m mypy.stubtest dtp_gillespie._core
# The package is strictly typed (mypy --strict; the configuration is in pyproject.toml).
python -m mypy
python -m pytest -p no:cacheprovider -n auto "$@"
