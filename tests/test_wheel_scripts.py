"""The wheel scripts' own checks: clear failures when a tool is missing, and the glibc gate.

scripts/build-wheels.sh and scripts/test-wheel.sh run in CI on the real wheel; these tests cover the
paths that a good build never takes (a missing tool, a bad target, an extension that needs a newer
glibc than its manylinux tag allows), quickly and without building anything.
"""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD_WHEELS = REPO / "scripts" / "build-wheels.sh"
TEST_WHEEL = REPO / "scripts" / "test-wheel.sh"


def run_script(
    script: Path, *args: str, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs a script with bash, with its output captured and PATH replaced when `path` is given."""
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        ["bash", str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def python_only_path(tmp_path: Path) -> str:
    """A PATH with python3 and the basic system tools, but without cargo and rustc."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    path = os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
    if shutil.which("cargo", path=path) or shutil.which("rustc", path=path):
        pytest.skip("cargo or rustc is installed in a system directory")
    return path


def test_build_wheels_without_cargo_names_the_missing_tool(tmp_path: Path) -> None:
    result = run_script(BUILD_WHEELS, path=python_only_path(tmp_path))
    assert result.returncode == 1
    assert "'cargo' not found on PATH" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo and rustc on PATH")
def test_build_wheels_rejects_an_unknown_target_before_building() -> None:
    result = run_script(BUILD_WHEELS, "sparc")
    assert result.returncode == 1
    assert "unknown target 'sparc'" in result.stderr
    assert "== wheel" not in result.stdout


def fake_wheel(tmp_path: Path, extension: Path, platform_tag: str) -> Path:
    """A wheel holding only `extension` as dtp_gillespie/_core, under the given platform tag."""
    wheel = tmp_path / f"dtp_gillespie-0.0.0-cp311-abi3-{platform_tag}.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(extension, "dtp_gillespie/_core.abi3.so")
    return wheel


@pytest.fixture
def extension_needing_glibc_2_34(tmp_path: Path) -> Path:
    """A shared object needing GLIBC_2.34 (dlopen moved into libc then), as a native build does."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or shutil.which("readelf") is None:
        pytest.skip("needs a C compiler and readelf (binutils)")
    source = tmp_path / "needs_2_34.c"
    source.write_text('#include <dlfcn.h>\nvoid *open_it(void) { return dlopen("x", 0); }\n')
    extension = tmp_path / "needs_2_34.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", extension, source], check=True)
    versions = subprocess.run(["readelf", "-V", "-W", extension], capture_output=True, text=True)
    if "GLIBC_2.34" not in versions.stdout:
        pytest.skip("this system's glibc is older than 2.34")
    return extension


@pytest.mark.parametrize(
    ("platform_tag", "returncode", "stream", "message"),
    [
        (
            "manylinux_2_17_x86_64",
            1,
            "stderr",
            "needs GLIBC_2.34, newer than its tag allows (GLIBC_2.17)",
        ),
        ("manylinux_2_34_x86_64", 0, "stdout", "_core needs GLIBC <= 2.34 (tag allows 2.34)"),
    ],
    ids=["rejected-under-manylinux_2_17", "accepted-under-manylinux_2_34"],
)
def test_test_wheel_checks_the_glibc_an_extension_needs_against_its_tag(
    tmp_path: Path,
    extension_needing_glibc_2_34: Path,
    platform_tag: str,
    returncode: int,
    stream: str,
    message: str,
) -> None:
    wheel = fake_wheel(tmp_path, extension_needing_glibc_2_34, platform_tag)
    result = run_script(TEST_WHEEL, "--no-install", str(wheel))
    assert result.returncode == returncode, result.stderr
    assert message in getattr(result, stream)
