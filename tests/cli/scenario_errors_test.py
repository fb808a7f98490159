"""Bad scenario files through the command line (docs/cli.md "Exit codes": 2 = "a scenario file
that does not load (the message names file:line:col and the valid choices)").

The loader's messages are unit-tested in harness/run/src/scenario_test.cpp; this checks what
a user of `mailsim run` / `mailsim list` sees: exit code 2, one `mailsim: FILE:LINE:COL: error:`
line on stderr naming the problem and the choices, nothing on stdout (no table, no world
started), and the same for every way a scenario can be wrong.

Needs MAILSIM (path of the mailsim binary).
"""
import os
import subprocess

import pytest

MAILSIM = os.environ.get("MAILSIM", "")


def mailsim(*args):
    if not MAILSIM or not os.access(MAILSIM, os.X_OK):
        pytest.fail(f"MAILSIM={MAILSIM!r} is not an executable mailsim binary")
    return subprocess.run([MAILSIM, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NO_COLOR": "1"})


def write(tmp_path, name, text):
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


CASES = {
    "unknown-key": (
        "name: k\nextends: guide-baseline\nexpcet: {}\n",
        ":3:1: error: unknown key 'expcet' in a scenario; valid: name, teaches, extends, seed, "
        "baseline, breakages, probes, expect"),
    "unknown-breakage": (
        "name: b\nextends: guide-baseline\nbreakages:\n  - spf.sett: {value: \"v=spf1 -all\"}\n",
        ":4:5: error: unknown breakage 'spf.sett'; valid: "),
    "bad-disposition": (
        "name: d\nextends: guide-baseline\nexpect:\n  outbound: {gmail: junk}\n",
        ":4:21: error: bad expectation 'junk'; valid: inbox, spam, rejected, deferred, "
        "unreachable, not_sent"),
    "unknown-persona-in-expect": (
        "name: p\nextends: guide-baseline\nexpect:\n  inbound: {hotmail: inbox}\n",
        ":4:13: error: unknown key 'hotmail' in expect.inbound; valid: gmail, outlook, yahoo, "
        "mailtester, corporate, all"),
    "unknown-extends": (
        "name: e\nextends: guide-basline\n",
        ":2:10: error: unknown scenario 'guide-basline' in extends; valid: "),
    "bad-score-bound": (
        "name: s\nextends: guide-baseline\nexpect:\n  outbound: {mailtester: \"<= 11\"}\n",
        ":4:26: error: "),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["run", "list"])
def test_bad_scenario_file_is_a_usage_error(tmp_path, case, command):
    text, expected = CASES[case]
    f = write(tmp_path, f"{case}.yaml", text)
    r = mailsim(command, str(f), *(["-q"] if command == "run" else []))
    assert r.returncode == 2, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert r.stdout == "", f"nothing may be printed on stdout (no table):\n{r.stdout}"
    lines = r.stderr.splitlines()
    assert len(lines) == 1, f"one error line expected:\n{r.stderr}"
    assert lines[0].startswith(f"mailsim: {f}{expected}"), lines[0]


def test_unknown_breakage_suggests_the_closest_name(tmp_path):
    f = write(tmp_path, "b.yaml", CASES["unknown-breakage"][0])
    r = mailsim("run", str(f), "-q")
    assert r.returncode == 2
    assert "(did you mean 'spf.set'?)" in r.stderr, r.stderr
    for valid in ("spf.set", "dkim.truncate", "proxy.on", "ptr.remove"):
        assert valid in r.stderr


def test_extends_cycle_names_the_cycle(tmp_path):
    write(tmp_path, "cyc/ca.yaml", "name: ca\nextends: cb\n")
    write(tmp_path, "cyc/cb.yaml", "name: cb\nextends: ca\n")
    r = mailsim("run", str(tmp_path / "cyc"), "-q")
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    assert "error: extends cycle: " in r.stderr, r.stderr
    assert ("ca → cb → ca" in r.stderr) or ("cb → ca → cb" in r.stderr), r.stderr
    assert "cyc/c" in r.stderr and ".yaml:2:10:" in r.stderr, "file:line:col missing: " + r.stderr


def test_one_bad_file_in_a_folder_stops_the_run_before_any_world(tmp_path):
    write(tmp_path, "mix/good.yaml", "name: good\nextends: guide-baseline\n")
    bad = write(tmp_path, "mix/zbad.yaml", CASES["bad-disposition"][0])
    r = mailsim("run", str(tmp_path / "mix"), "-q")
    assert r.returncode == 2
    assert r.stdout == ""
    assert f"{bad}:4:21: error: bad expectation 'junk'" in r.stderr, r.stderr


def test_duplicate_scenario_names_across_files(tmp_path):
    a = write(tmp_path, "a.yaml", "name: same\nextends: guide-baseline\n")
    b = write(tmp_path, "b.yaml", "name: same\nextends: guide-baseline\n")
    r = mailsim("run", str(a), str(b), "-q")
    assert r.returncode == 2
    assert f'scenario name "same" is already used by {a}' in r.stderr, r.stderr


def test_unknown_catalog_name_lists_the_catalog():
    r = mailsim("run", "cloudflare-proxy", "-q")
    assert r.returncode == 2
    assert "no such file, folder or catalog scenario; catalog scenarios: " in r.stderr
    assert "cloudflare-proxy-on" in r.stderr


@pytest.mark.parametrize("flag,choice", [("--persona", "aol"), ("--sut", "exim"),
                                         ("--shard", "4/4")])
def test_bad_flags_are_usage_errors(flag, choice):
    r = mailsim("run", "guide-baseline", "-q", flag, choice)
    assert r.returncode == 2, f"{flag} {choice}: exit {r.returncode}\n{r.stderr}"
    assert choice in r.stderr, r.stderr


@pytest.mark.parametrize("flags", [["--pull"], ["--keep"], ["--posteio-tag", "2.5.4"]])
def test_posteio_flags_need_the_posteio_setup(flags):
    r = mailsim("run", "guide-baseline", "-q", *flags)
    assert r.returncode == 2, f"{flags}: exit {r.returncode}\n{r.stderr}"
    assert "need --sut posteio" in r.stderr
    assert r.stdout == ""
