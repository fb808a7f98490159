"""mailsim — build a sealed mail world, break it, send real SMTP through it, see why.

The objects are mailsim's C++ objects (``mailsim._core``), not a second model:

    >>> import mailsim
    >>> s = mailsim.Scenario("my-test", extends="guide-baseline")
    >>> s.break_("dkim.truncate", at=255)          # same names as in YAML
    >>> result = mailsim.run(s, personas=["gmail", "mailtester"])
    >>> result.outcome("gmail").disposition == "inbox"

See docs/python.md.
"""

from __future__ import annotations

import itertools
import os
from typing import Iterable, Optional, Sequence, Union

from . import enums
from ._core import (  # noqa: F401  (re-exported public API)
    GUIDE_DOMAIN,
    GUIDE_MX_HOST,
    GUIDE_SERVER_IP,
    BaselineOptions,
    Breakage,
    BreakageInfo,
    BreakageParam,
    Deduction,
    DirectionExpectations,
    DkimPublication,
    DnsFault,
    Expectation,
    ExpectationCheck,
    Expectations,
    Finding,
    Fix,
    Host,
    MessageShape,
    Outcome,
    Probes,
    Record,
    Reply,
    Result,
    Runner,
    Scenario,
    ScenarioError,
    World,
    all_personas,
    breakage_catalog,
    canonical_name,
    catalog_dir,
    find_breakage,
    omittable_headers,
    persona_domains,
    reverse_name,
    split_txt,
    table,
)
from ._core import catalog as _catalog
from .enums import (  # noqa: F401
    BreakageStage,
    Direction,
    Disposition,
    DnsFaultKind,
    FindingKind,
    HostRole,
    RrType,
)

__version__ = "0.1.0"

ScenarioLike = Union[Scenario, str, "os.PathLike[str]"]


def catalog(reload: bool = False) -> "dict[str, Scenario]":
    """Every catalog scenario by name (fresh copies; editing one does not change the next call).

    The catalog is ``$MAILSIM_CATALOG`` if set, else ``scenarios/catalog`` of the source tree.
    """
    return dict(_catalog(reload))


def scenario(what: ScenarioLike) -> Scenario:
    """A Scenario from a Scenario (returned as is), a catalog name, or a path to a .yaml file."""
    if isinstance(what, Scenario):
        return what
    text = os.fspath(what)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        return Scenario.load(text)
    scenarios = catalog()
    if text not in scenarios:
        raise ScenarioError(
            f"unknown scenario '{text}'; valid: {', '.join(sorted(scenarios))}"
        )
    return scenarios[text]


# Successive runs of one process walk through the blocks from an offset derived from the pid,
# so two pytest processes on one machine rarely start in the same 127.N block.
_blocks = itertools.count(100 + (os.getpid() * 7) % 100)


def _auto_run_index() -> int:
    return next(_blocks) % 250


def run(
    what: Union[ScenarioLike, Iterable[ScenarioLike]],
    *,
    seed: int = 1,
    personas: Optional[Sequence[str]] = None,
    jobs: int = 0,
    run_index: Optional[int] = None,
    sut: str = "builtin",
    io_timeout_ms: int = 5000,
) -> Union[Result, "list[Result]"]:
    """Runs one scenario (a Scenario, catalog name or .yaml path) and returns its Result; or a
    list of them in parallel and returns the Results sorted by scenario name.

    The GIL is released while the run works; Ctrl-C stops it cleanly and raises
    KeyboardInterrupt after everything it started is torn down. ``run_index`` is the preferred
    first 127.N block; by default each call prefers the next block of this process. A block
    another run holds is skipped (the Runner leases each block), so runs never share one.
    """
    # The Runner leases each block (a bound socket): one held by another process is
    # skipped there, for every caller.
    runner = Runner(run_index=_auto_run_index() if run_index is None else run_index,
                    seed=seed, personas=list(personas or []), jobs=jobs, sut=sut,
                    io_timeout_ms=io_timeout_ms)
    if isinstance(what, (Scenario, str, os.PathLike)):
        return runner.run(scenario(what))
    return runner.run_all([scenario(w) for w in what])


__all__ = [
    name
    for name in dir()
    if not name.startswith("_") and name not in ("os", "itertools", "annotations")
]
