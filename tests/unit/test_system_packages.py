"""scripts/install-system-packages.sh and the switch that turns skips into failures (issue 17,
finding 9): a fresh machine gets what TOM's tests need, and cannot pass by skipping them.

The script runs for real; only apt-get and sudo are stand-ins on PATH that record their calls.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-system-packages.sh"


@pytest.fixture
def fake_apt(tmp_path: Path) -> Path:
    """A bin dir whose apt-get and sudo only append their arguments to calls.log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "apt-get $*" >> {log}\n', encoding="utf-8")
    (bin_dir / "sudo").write_text(f'#!/bin/sh\necho "sudo $1" >> {log}\nexec "$@"\n',
                                  encoding="utf-8")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return bin_dir


def run(fake_apt: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    full = {**os.environ, "PATH": f"{fake_apt}:{os.environ['PATH']}", **env}
    done = subprocess.run(["bash", str(SCRIPT), *args], env=full, capture_output=True, text=True,
                          timeout=60)
    log = fake_apt.parent / "calls.log"
    return done, log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def test_nothing_missing_is_a_quick_no_op(fake_apt: Path, tmp_path: Path) -> None:
    present = tmp_path / "chromium"
    present.write_text("", encoding="utf-8")
    present.chmod(0o755)
    extra = "test | tom-tool | true |\n"
    done, calls = run(fake_apt, "serve", "test", CHROMIUM_PATH=str(present),
                      TOM_EXTRA_SYSTEM_PACKAGES=extra)
    if "missing" in done.stdout:  # this machine lacks a real package: nothing to check here
        pytest.skip(done.stdout.strip())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "system packages: all present (serve test)"
    assert calls == []  # no apt-get update, no sudo


def test_a_missing_package_is_named_and_installed(fake_apt: Path) -> None:
    done, calls = run(fake_apt, "test", CHROMIUM_PATH="/nonexistent/chromium")
    assert done.returncode == 0, done.stderr
    assert "missing for test:" in done.stdout and "chromium" in done.stdout
    assert "installing with apt-get:" in done.stdout
    apt = [c.removeprefix("sudo apt-get").removeprefix("apt-get").strip() for c in calls
           if "apt-get" in c and not c.startswith("sudo ")]
    assert apt[0] == "update -qq"
    assert apt[1].startswith("install -y -qq --no-install-recommends") and "chromium" in apt[1]
    assert ("sudo apt-get" in calls) == (os.geteuid() != 0)


def test_check_only_reports(fake_apt: Path) -> None:
    done, calls = run(fake_apt, "--check", "test", CHROMIUM_PATH="/nonexistent/chromium")
    assert done.returncode == 1 and "chromium" in done.stdout and calls == []


def test_the_runtime_group_does_not_need_the_browser(fake_apt: Path) -> None:
    done, calls = run(fake_apt, "--check", "runtime", CHROMIUM_PATH="/nonexistent/chromium")
    if done.returncode and ("libgomp1" in done.stdout or "libportaudio2" in done.stdout):
        pytest.skip(done.stdout.strip())
    assert done.returncode == 0 and calls == []


def test_a_library_listed_first_of_many_is_present(fake_apt: Path) -> None:
    """CI found libttspico0 "missing" beside it: `ldconfig -p | grep -q` under pipefail fails
    when grep stops reading early and ldconfig dies of SIGPIPE."""
    libraries = ("libttspico.so.0", "libgomp.so.1", "libportaudio.so.2")
    listing = "".join(f"\t{name} (libc6,x86-64) => /lib/{name}\\n" for name in libraries)
    (fake_apt / "ldconfig").write_text(
        f'#!/bin/sh\nprintf "{listing}"\nseq 1 200000 | sed "s/.*/\\tlibfill&.so (libc6)/"\n',
        encoding="utf-8")
    (fake_apt / "ldconfig").chmod(0o755)
    done, calls = run(fake_apt, "--check", "runtime")
    assert not any(name in done.stdout for name in ("libttspico0", "libgomp1", "libportaudio2")), \
        done.stdout
    assert calls == []


def test_a_library_the_linker_does_not_know_is_missing(fake_apt: Path) -> None:
    (fake_apt / "ldconfig").write_text('#!/bin/sh\nprintf "\\tlibttspico.so.01 (libc6)\\n"\n',
                                       encoding="utf-8")
    (fake_apt / "ldconfig").chmod(0o755)
    done, _ = run(fake_apt, "--check", "runtime")
    assert done.returncode == 1
    assert all(name in done.stdout for name in ("libttspico0", "libgomp1", "libportaudio2"))


@pytest.mark.parametrize("layout", ["deb822", "classic"])
def test_a_component_is_enabled_only_for_a_package_that_needs_it(fake_apt: Path, tmp_path: Path,
                                                                 layout: str) -> None:
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    if layout == "deb822":
        sources = etc / "sources.list.d" / "debian.sources"
        sources.write_text("Types: deb\nURIs: http://deb.example/debian\nSuites: bookworm\n"
                           "Components: main non-free-firmware\n", encoding="utf-8")
    else:
        sources = etc / "sources.list"
        sources.write_text("deb http://deb.example/debian bookworm main\n# a comment\n",
                           encoding="utf-8")
    before = sources.read_text(encoding="utf-8")
    present = {"CHROMIUM_PATH": sys.executable, "TOM_APT_ETC": str(etc)}
    done, _ = run(fake_apt, "runtime", TOM_EXTRA_SYSTEM_PACKAGES="runtime | ok-pkg | true | contrib\n",
                  **present)
    assert sources.read_text(encoding="utf-8") == before  # present: nothing enabled
    extra = "runtime | tom-firmware | test -x /bin/sh | grep -q never | non-free\n"
    for _ in range(2):  # the second run finds it enabled and does not add it again
        done, calls = run(fake_apt, "runtime", TOM_EXTRA_SYSTEM_PACKAGES=extra, **present)
        assert done.returncode == 0, done.stderr
        assert "tom-firmware" in done.stdout
    text = sources.read_text(encoding="utf-8")
    if layout == "deb822":
        assert "Components: main non-free-firmware non-free\n" in text
    else:
        assert "deb http://deb.example/debian bookworm main non-free\n# a comment\n" == text


def test_skips_fail_when_system_packages_are_required(tmp_path: Path) -> None:
    """`make test` sets TOM_REQUIRE_SYSTEM_PACKAGES=1: a browser test without chromium fails."""
    test = ROOT / "tests" / "e2e" / "test_dashboard_browser.py"
    env = {**os.environ, "CHROMIUM_PATH": "/nonexistent/chromium", "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "pytest", str(test), "-q", "-p", "no:cacheprovider",
            "-k", "talk_to_tom_from_the_browser", "--rootdir", str(ROOT)]
    skipped = subprocess.run(argv, env={**env, "TOM_REQUIRE_SYSTEM_PACKAGES": "0"},
                             capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout, skipped.stdout[-2000:]
    required = subprocess.run(argv, env={**env, "TOM_REQUIRE_SYSTEM_PACKAGES": "1"},
                              capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert required.returncode != 0, required.stdout[-2000:]
    assert "chromium not found" in required.stdout
    assert "TOM_REQUIRE_SYSTEM_PACKAGES=1 requires every test to run" in required.stdout
