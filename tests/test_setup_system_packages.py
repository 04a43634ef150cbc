"""`make test` on a bare machine: the packages the browser tests need are installed, or one line says which."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "ensure-system-packages"
BASH = "/bin/bash"


def _fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!{BASH}\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def machine(tmp_path):
    """A fake PATH: a dpkg that knows only the packages listed in state/installed, and an unprivileged id."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    (state / "installed").write_text("")
    log = state / "calls"
    _fake(bin_dir, "dpkg", f'''[ "$1" = -s ] || exit 2
while read -r p; do [ "$p" = "$2" ] && {{ printf 'Package: %s\\nStatus: install ok installed\\n' "$2"; exit 0; }}; done < {state}/installed
echo "dpkg-query: package '$2' is not installed" >&2; exit 1''')  # noqa: E501 - a shell script, its lines as the shell reads them
    _fake(bin_dir, "id", 'echo 1000')

    def run(*pkgs):
        env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
        return subprocess.run([BASH, str(SCRIPT), *pkgs], env=env, capture_output=True, text=True, timeout=30)

    def apt_get():
        """A fake apt-get that logs its calls and 'installs' what it is asked to."""
        _fake(bin_dir, "apt-get", f'''echo "$(/usr/bin/printenv DEBIAN_FRONTEND) $*" >> {log}
if [ "$1" = install ]; then for a in "$@"; do case "$a" in -*|install) ;; *) echo "$a" >> {state}/installed;; esac; done; fi''')  # noqa: E501 - a shell script, its lines as the shell reads them

    run.bin, run.state, run.log, run.apt_get = bin_dir, state, log, apt_get
    return run


def test_without_apt_and_without_root_one_line_says_what_to_install(machine):
    out = machine()
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "apt-get install -y chromium fonts-noto-cjk" in lines[0]
    assert "no apt-get" in lines[0]
    assert out.stdout == ""


def test_not_root_and_no_sudo_stops_before_calling_apt(machine):
    machine.apt_get()
    out = machine()
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "not root" in lines[0] and "chromium fonts-noto-cjk" in lines[0]
    assert not machine.log.exists()


def test_only_the_missing_package_is_named(machine):
    (machine.state / "installed").write_text("chromium\n")
    out = machine()
    assert out.returncode != 0
    assert "install -y fonts-noto-cjk" in out.stderr and "chromium" not in out.stderr


def test_as_root_missing_packages_are_installed_through_apt_after_an_update(machine):
    machine.apt_get()
    _fake(machine.bin, "id", "echo 0")
    out = machine()
    assert out.returncode == 0, out.stderr
    calls = machine.log.read_text().splitlines()
    assert calls == ["noninteractive update -qq", "noninteractive install -y -qq chromium fonts-noto-cjk"]


def test_with_a_passwordless_sudo_apt_runs_through_it(machine):
    machine.apt_get()
    _fake(machine.bin, "sudo", f'''[ "$1" = -n ] || exit 9
shift; echo "sudo $*" >> {machine.log}; [ "$1" = true ] && exit 0
[ "$1" = env ] && shift && export "$1" && shift; exec "$@"''')
    out = machine()
    assert out.returncode == 0, out.stderr
    calls = machine.log.read_text().splitlines()
    assert "noninteractive install -y -qq chromium fonts-noto-cjk" in calls
    assert calls[0] == "sudo true"


def test_nothing_is_done_when_everything_is_installed(machine):
    machine.apt_get()
    (machine.state / "installed").write_text("chromium\nfonts-noto-cjk\n")
    out = machine()
    assert (out.returncode, out.stderr) == (0, "")
    assert not machine.log.exists()


def test_a_package_apt_could_not_install_still_stops_make(machine):
    _fake(machine.bin, "apt-get", "exit 0")  # claims success, installs nothing
    _fake(machine.bin, "id", "echo 0")
    out = machine()
    assert out.returncode != 0
    assert "still missing" in out.stderr.strip().splitlines()[-1]


def test_make_test_runs_the_check_before_pytest():
    out = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "MAKEFLAGS": ""}, timeout=60)
    lines = out.stdout.splitlines()
    check = next(i for i, ln in enumerate(lines) if "scripts/ensure-system-packages chromium fonts-noto-cjk" in ln)
    pytest_line = next(i for i, ln in enumerate(lines) if "-m pytest" in ln)
    assert check < pytest_line
