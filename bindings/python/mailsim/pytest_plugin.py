"""pytest plugin for mailsim scenarios.

Enable it in a conftest.py (there is no pip install, hence no ``pytest11`` entry point)::

    pytest_plugins = ["mailsim.pytest_plugin"]

Fixtures:
    mail_world   a fresh guide-baseline Scenario named after the test; break it, expect, run
    mail_runner  a mailsim.Runner with the session's options (--mailsim-seed, --mailsim-sut,
                 --mailsim-persona) and a 127.N block of its own
    mail_run     mail_run(scenario) -> Result, with the same options

Parametrizing over the catalog:
    @pytest.mark.mailsim_catalog                     # every catalog scenario
    @pytest.mark.mailsim_catalog("spf-broken", ...)  # some of them
    def test_x(catalog_scenario): ...

    or @pytest.mark.parametrize("scenario", mailsim.pytest_plugin.catalog_params())

``assert_expectations(result)`` fails a test with every unmet expectation's one-line why.
"""

from __future__ import annotations

import itertools
from typing import Callable, List, Optional, Sequence

import pytest

import mailsim

# Each Runner a test creates gets its own 127.N block (N in 1..250). The plugin starts high
# so that a pytest session next to the gtest end-to-end runs (low blocks) does not collide.
_DEFAULT_FIRST_BLOCK = 150
_blocks = itertools.count()


def catalog_params(names: Optional[Sequence[str]] = None) -> List["pytest.ParameterSet"]:
    """One pytest.param per catalog scenario (id = its name), optionally only ``names``."""
    scenarios = mailsim.catalog()
    if names:
        unknown = [n for n in names if n not in scenarios]
        if unknown:
            raise mailsim.ScenarioError(
                f"unknown scenario(s) {', '.join(unknown)}; valid: {', '.join(sorted(scenarios))}"
            )
        selected = [scenarios[n] for n in names]
    else:
        selected = [scenarios[n] for n in sorted(scenarios)]
    return [pytest.param(s, id=s.name) for s in selected]


def assert_expectations(result: "mailsim.Result") -> None:
    """Fails the test naming every unmet expectation (or the run's error) of ``result``."""
    __tracebackhide__ = True
    if result.error:
        pytest.fail(f"{result.scenario}: run failed: {result.error}", pytrace=False)
    if result.cancelled:
        pytest.fail(f"{result.scenario}: run cancelled", pytrace=False)
    unmet = [c.why for c in result.expectations if not c.met]
    if unmet:
        pytest.fail(f"{result.scenario}: {len(unmet)} unmet\n  " + "\n  ".join(unmet), pytrace=False)


def pytest_addoption(parser: "pytest.Parser") -> None:
    group = parser.getgroup("mailsim")
    group.addoption("--mailsim-seed", type=int, default=1, help="seed for DKIM keys and ids")
    group.addoption("--mailsim-sut", default="builtin", help="setup under test (builtin, …)")
    group.addoption(
        "--mailsim-persona",
        action="append",
        default=[],
        help="only probe this persona (repeatable); default all",
    )
    group.addoption(
        "--mailsim-first-block",
        type=int,
        default=_DEFAULT_FIRST_BLOCK,
        help="first 127.N block the plugin's runners use",
    )


def pytest_configure(config: "pytest.Config") -> None:
    config.addinivalue_line(
        "markers",
        "mailsim_catalog(*names): run the test once per catalog scenario (or the named ones), "
        "passing it as the `catalog_scenario` argument",
    )


def pytest_generate_tests(metafunc: "pytest.Metafunc") -> None:
    marker = metafunc.definition.get_closest_marker("mailsim_catalog")
    if marker is None:
        return
    if "catalog_scenario" not in metafunc.fixturenames:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: @pytest.mark.mailsim_catalog needs a "
            "`catalog_scenario` argument"
        )
    metafunc.parametrize("catalog_scenario", catalog_params(list(marker.args)))


def _runner(config: "pytest.Config") -> "mailsim.Runner":
    block = config.getoption("--mailsim-first-block") + next(_blocks)
    return mailsim.Runner(
        seed=config.getoption("--mailsim-seed"),
        personas=list(config.getoption("--mailsim-persona")),
        sut=config.getoption("--mailsim-sut"),
        run_index=block % 250,
    )


@pytest.fixture
def mail_world(request: "pytest.FixtureRequest") -> "mailsim.Scenario":
    """A fresh guide-baseline Scenario, named after the test."""
    return mailsim.Scenario(request.node.name, extends="guide-baseline")


@pytest.fixture
def mail_runner(request: "pytest.FixtureRequest") -> "mailsim.Runner":
    """A Runner with the session's options and a 127.N block of its own."""
    return _runner(request.config)


@pytest.fixture
def mail_run(
    request: "pytest.FixtureRequest",
) -> Callable[["mailsim.Scenario"], "mailsim.Result"]:
    """mail_run(scenario) runs it with the session's options and returns the Result."""
    config = request.config

    def run(scenario: "mailsim.Scenario") -> "mailsim.Result":
        result = _runner(config).run(scenario)
        # The plugin chose the block: if another process holds it, take the next one.
        for _ in range(5):
            if "Address already in use" not in result.error:
                break
            result = _runner(config).run(scenario)
        return result

    return run
