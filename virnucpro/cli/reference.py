"""Which commit ``virnucpro benchmark --quick`` measures the checkout against, and why.

The quick tier compares side by side (:mod:`virnucpro.cli.ab`): the working tree against a
reference commit, paired. The reference, in order:

1. the commit the stored baseline of this hardware and workload was recorded at (the baseline
   records it in its environment fingerprint), when this checkout's git history holds it: the
   same code the stored numbers came from, measured again today beside the checkout;
2. else the merge base of ``HEAD`` with the default branch (``origin/HEAD``, else
   ``origin/main``, ``origin/master``, ``main``, ``master``, the first that exists): what the
   checkout changed;
3. else none, and :attr:`Reference.why` says why in one line (no git history at all, or none
   of those branches).

The stored baseline is looked up before anything is measured, from the storage key the run
will have (:class:`tools.bench.history.baseline.KeyParts`); an unreadable baseline file is
named, and the reference falls back to the merge base.

``tools.bench`` lives in the source checkout: import this module only after
:func:`virnucpro.cli.benchmark.checkout_importable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tools.bench.history.baseline import BaselineRecord, KeyParts, stored_baseline
from virnucpro.bench.ab.checkout import resolve_ref
from virnucpro.bench.ab.worker_process import WorkerSpec
from virnucpro.bench.options import BenchOptions
from virnucpro.bench.records import SchemaError
from virnucpro.bench.run.envinfo import environment_fingerprint
from virnucpro.bench.workload.prepare import Workload
from virnucpro.errors import InputError
from virnucpro.hashing import file_sha256

DEFAULT_BRANCHES = ("origin/HEAD", "origin/main", "origin/master", "main", "master")
SHORT_SHA = 12


@dataclass(frozen=True)
class Stored:
    """The stored baseline of the run's key, or why there is none to use."""

    key: str
    record: BaselineRecord | None
    problem: str | None = None  # a damaged file, named


@dataclass(frozen=True)
class Reference:
    """The commit to measure against (None: no reference), and why, in one line."""

    sha: str | None
    why: str
    what: str = ""  # what the commit is, in a few words (the verdict's "against ...")

    @property
    def label(self) -> str:
        return f"{(self.sha or 'none')[:SHORT_SHA]} ({self.what})" if self.what else ""


def stored_for(options: BenchOptions, spec: WorkerSpec, workload: Workload, root: Path) -> Stored:
    """The stored baseline the run will have: same machine, workload, engine, preset, device,
    precision, and the torch threads its workers use."""
    environment = environment_fingerprint(repo=root).model_copy(
        update={"torch_threads": spec.threads}
    )
    how = {"engine": spec.engine, "model_preset": spec.preset, "precision": spec.precision}
    key = KeyParts(
        environment.hardware_key(),
        workload.name,
        file_sha256(workload.path),
        spec.expected_length,
        device=spec.device,
        **how,
    ).key()
    try:
        return Stored(key, stored_baseline(key, options.baseline_dir))
    except SchemaError as exc:
        return Stored(key, None, problem=f"the stored baseline is unusable: {exc}")


def _commit(root: Path, ref: str) -> str | None:
    try:
        return resolve_ref(root, ref)
    except InputError:
        return None


def _recorded_at(root: Path, stored: Stored) -> Reference | None:
    record = stored.record
    commit = record.results.environment.git_commit if record is not None else None
    if record is None or not commit:
        return None
    sha = _commit(root, commit)
    if sha is None:
        return None
    return Reference(
        sha,
        f"{sha[:SHORT_SHA]} is the commit the stored baseline of this hardware and workload "
        f"was recorded at ({record.path}, {record.results.run.created_at[:10]})",
        "the stored baseline's commit",
    )


def _merge_base(root: Path, stored: Stored, head: str) -> Reference | None:
    for branch in DEFAULT_BRANCHES:
        if _commit(root, branch) is None:
            continue
        sha = _commit(root, f"merge-base:{branch}")
        if sha is None:
            continue
        itself = " (HEAD itself: the uncommitted changes against the last commit)" * (sha == head)
        return Reference(
            sha,
            f"{sha[:SHORT_SHA]} is the merge base of this checkout with {branch}{itself}; "
            f"{_no_stored_commit(stored)}",
            f"the merge base with {branch}",
        )
    return None


def _no_stored_commit(stored: Stored) -> str:
    """Why the stored baseline's commit was not the reference."""
    if stored.problem:
        return stored.problem
    record = stored.record
    if record is None:
        return f"no stored baseline for this hardware and workload ({stored.key})"
    commit = record.results.environment.git_commit
    if not commit:
        return f"the stored baseline {record.path} records no commit"
    return (
        f"the stored baseline's commit {commit[:SHORT_SHA]} is not in this checkout's history "
        "(a shallow clone?)"
    )


def choose_reference(root: Path, stored: Stored) -> Reference:
    """The reference commit for the checkout at ``root`` (see the module docstring)."""
    head = _commit(root, "HEAD")
    if head is None:
        return Reference(
            None, f"no reference commit: {root} has no git history (not a git repository)"
        )
    found = _recorded_at(root, stored) or _merge_base(root, stored, head)
    if found is not None:
        return found
    branches = ", ".join(DEFAULT_BRANCHES)
    return Reference(
        None,
        f"no reference commit: {_no_stored_commit(stored)}, and none of {branches} exists "
        "to take a merge base with",
    )
