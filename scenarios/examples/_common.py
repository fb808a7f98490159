"""Shared by the examples: run a scenario, print the CLI's table and explain what failed.

Run an example from the repository root with the build tree's package on the path:
    PYTHONPATH=build/release/bindings /usr/bin/python3 scenarios/examples/spf_broken.py
"""

from __future__ import annotations

import sys

import mailsim


def run_and_report(scenario: mailsim.Scenario, **options: object) -> int:
    """Runs, prints the table (and the explanation of unmet expectations); returns an exit code
    like the CLI's: 0 when every expectation holds, 1 otherwise."""
    result = mailsim.run(scenario, **options)  # type: ignore[arg-type]
    print(result.table())
    if not result.passed:
        print(result.explain())
    return 0 if result.passed else 1


def main(build: "type[object] | object") -> None:
    sys.exit(run_and_report(build()))  # type: ignore[operator]
