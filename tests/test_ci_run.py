"""`.ci/run`: a browser for the dashboard test, the tests, the quick tier's A/B self-check
(``--against HEAD``), the GPU check's dry run in a copy of the GPU image; first failure wins."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CI_RUN = ROOT / ".ci" / "run"

# Stands in for python3: `-m venv DIR` makes a venv whose nox logs its arguments and exits with
# FAKE_TESTS_EXIT / FAKE_BENCH_EXIT / FAKE_GPU_EXIT for the tests / bench_quick / gpu_check
# sessions.
FAKE_PYTHON = """#!/usr/bin/env bash
set -eu
[ "$1 $2" = "-m venv" ] || exit 90
mkdir -p "$3/bin"
printf '#!/usr/bin/env bash\\nexit 0\\n' > "$3/bin/python"
cat > "$3/bin/nox" <<'NOX'
#!/usr/bin/env bash
echo "$*" >> "$FAKE_NOX_LOG"
case "$*" in
  *"-s tests"*) exit "$FAKE_TESTS_EXIT" ;;
  *"-s bench_quick"*) exit "$FAKE_BENCH_EXIT" ;;
  *"-s gpu_check"*) exit "${FAKE_GPU_EXIT:-0}" ;;
esac
exit 91
NOX
chmod +x "$3/bin/python" "$3/bin/nox"
"""


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def run_script(**env: str) -> subprocess.CompletedProcess[str]:
    """Run `.ci/run` as CI does: no stdin, CI=true, plus ``env`` (a browser found: bash)."""
    return subprocess.run(
        ["bash", str(CI_RUN)],
        env={**os.environ, "CI": "true", "CHROMIUM": "bash", **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_ci(
    tmp_path: Path, *, tests_exit: int, bench_exit: int, gpu_exit: int = 0
) -> tuple[int, list[str], str]:
    """Run `.ci/run` with a fake python; returns its exit code, the nox calls and stderr."""
    log = tmp_path / "nox.log"
    result = run_script(
        PYTHON=str(executable(tmp_path / "python3", FAKE_PYTHON)),
        FAKE_NOX_LOG=str(log),
        FAKE_TESTS_EXIT=str(tests_exit),
        FAKE_BENCH_EXIT=str(bench_exit),
        FAKE_GPU_EXIT=str(gpu_exit),
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return result.returncode, calls, result.stderr


def test_is_an_executable_strict_bash_script() -> None:
    assert CI_RUN.stat().st_mode & stat.S_IXUSR
    text = CI_RUN.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text


def test_runs_tests_the_quick_tier_and_the_gpu_check_dry_run_and_prints_them(
    tmp_path: Path,
) -> None:
    code, calls, stderr = run_ci(tmp_path, tests_exit=0, bench_exit=0)
    assert code == 0
    assert [call.split()[1:] for call in calls] == [
        ["-s", "tests"],
        ["-s", "bench_quick", "--", "--against", "HEAD"],
        ["-s", "gpu_check", "--", "--dry-run", "tests/reports/gpu-check"],
    ]
    assert "nox --non-interactive -s tests" in stderr
    assert "nox --non-interactive -s bench_quick" in stderr
    assert "nox --non-interactive -s gpu_check -- --dry-run" in stderr


@pytest.mark.parametrize(
    ("tests_exit", "bench_exit", "gpu_exit", "expected"),
    [(1, 0, 0, 1), (0, 1, 0, 1), (0, 2, 0, 2), (3, 1, 0, 3), (0, 0, 1, 1), (0, 2, 1, 2)],
)
def test_exits_with_the_first_failure_after_running_all_three(
    tmp_path: Path, tests_exit: int, bench_exit: int, gpu_exit: int, expected: int
) -> None:
    code, calls, _ = run_ci(
        tmp_path, tests_exit=tests_exit, bench_exit=bench_exit, gpu_exit=gpu_exit
    )
    assert code == expected
    assert len(calls) == 3


def test_stops_when_nox_cannot_be_installed(tmp_path: Path) -> None:
    broken_python = executable(tmp_path / "python3", "#!/usr/bin/env bash\nexit 1\n")
    result = run_script(PYTHON=str(broken_python))
    assert result.returncode != 0
    assert "-s tests" not in result.stderr


FAKE_APT = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_APT_LOG"
"""


def test_an_installed_browser_is_reported(tmp_path: Path) -> None:
    code, _, stderr = run_ci(tmp_path, tests_exit=0, bench_exit=0)
    assert code == 0
    assert "browser: " in stderr and "bash" in stderr.split("browser: ")[1].splitlines()[0]


def test_a_missing_browser_is_installed_with_apt_or_the_reason_said(tmp_path: Path) -> None:
    log = tmp_path / "apt.log"
    result = run_script(
        PYTHON=str(executable(tmp_path / "python3", FAKE_PYTHON)),
        FAKE_NOX_LOG=str(tmp_path / "nox.log"),
        FAKE_TESTS_EXIT="0",
        FAKE_BENCH_EXIT="0",
        CHROMIUM="no-such-browser-here",
        APT_GET=str(executable(tmp_path / "apt-get", FAKE_APT)),
        FAKE_APT_LOG=str(log),
    )
    assert result.returncode == 0
    if os.geteuid() == 0:
        assert log.read_text().splitlines() == ["update -qq", "install -y -qq chromium"]
        assert "could not install chromium; the browser test will skip" in result.stderr
    else:
        assert not log.exists()
        assert "needs root here; the browser test will skip" in result.stderr
