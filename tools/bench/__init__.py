"""tools/bench: reports, regression verdicts and the GitHub poster over benchmark results.

The plan's public API (:mod:`tools.bench.api`) imports from the package, e.g.
``from tools.bench import ReportGenerator, RegressionTracker, check_regression``. It is loaded
on first use, so ``python -m tools.bench`` and the submodules do not pay for it.

Packages, each importing only those after it: ``cli`` -> ``github``, ``site`` -> ``judge`` ->
``history``, ``culprit`` -> ``report`` -> the vocabulary at the top (``verdict``, ``thresholds``,
``host_gate``, ``synthetic``). ``api`` sits above them all (``tests/test_layering.py``).
"""

from __future__ import annotations

import importlib

__all__ = [  # the plan's names, defined in tools.bench.api
    "RegressionTracker",
    "ReportGenerator",
    "check_regression",
    "compare_runs",
    "exit_code_for_regressions",
    "generate_comparison_report",
    "generate_json_report",
    "generate_markdown_report",
    "github_comment_format",
    "identify_improvements",
    "identify_regressions",
    "regression_badge_data",
    "update_baseline",
]


def __getattr__(name: str) -> object:
    if name in __all__:
        try:
            api = importlib.import_module("tools.bench.api")
        except ModuleNotFoundError as exc:
            from virnucpro.extras import missing_extra

            missing = missing_extra(exc, command="tools.bench")
            if missing is None:
                raise
            raise ImportError(str(missing)) from None
        return getattr(api, name)
    raise AttributeError(f"module 'tools.bench' has no attribute {name!r}")
