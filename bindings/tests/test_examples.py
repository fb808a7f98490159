"""scenarios/examples/*.py: each Python twin builds exactly its YAML catalog scenario, runs to
the same outcomes, and the scripts run from the command line."""

import os
import subprocess
import sys

import pytest

import mailsim

TWINS = {
    "guide_baseline": "guide-baseline",
    "spf_broken": "spf-broken",
    "rdns_missing": "rdns-missing",
    "dkim_truncated": "dkim-truncated",
    "cloudflare_proxy_on": "cloudflare-proxy-on",
}


@pytest.mark.parametrize("module, yaml_name", sorted(TWINS.items()))
def test_python_twin_is_the_yaml_scenario(module, yaml_name):
    twin = __import__(module).build()
    yaml = mailsim.catalog()[yaml_name]
    assert twin.world == yaml.world
    assert twin.breakages == yaml.breakages
    for direction in ("outbound", "inbound"):
        mine = getattr(twin.expectations, direction)
        theirs = getattr(yaml.expectations, direction)
        for persona in mailsim.all_personas():
            assert mine.for_persona(persona) == theirs.for_persona(persona), (direction, persona)
    assert twin.probes.outbound == yaml.probes.outbound


@pytest.mark.parametrize("module, yaml_name", sorted(TWINS.items()))
def test_python_twin_runs_like_the_yaml_scenario(module, yaml_name, examples_dir):
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, os.path.join(examples_dir, module + ".py")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr
    yaml_result = mailsim.run(yaml_name)
    # the exit code says whether the expectations hold, as for the CLI
    assert proc.returncode == (0 if yaml_result.passed else 1), proc.stdout
    rows = [l.split() for l in proc.stdout.splitlines() if l.startswith(yaml_name + "-py")]
    yaml_rows = [l.split() for l in yaml_result.table().splitlines() if l.startswith(yaml_name)]
    assert rows and yaml_rows
    assert rows[0][1:] == yaml_rows[0][1:], (proc.stdout, yaml_result.table())


def test_dkim_truncation_sweep_finds_where_delivery_changes(examples_dir):
    import dkim_truncation_sweep as sweep

    rows = sweep.sweep([200, 1000], personas=["mailtester"])
    cells = dict(rows)
    # A key cut at 200 characters cannot verify (RFC 6376 §3.6.1), a cut past the record's
    # length changes nothing: the mailtester mark tells them apart.
    assert cells[200]["mailtester"] != cells[1000]["mailtester"]
    assert cells[1000]["mailtester"] == "inbox 10.0"
    assert sweep.changes(rows) == [
        f"at 1000: mailtester {cells[200]['mailtester']} → inbox 10.0"
    ]
    proc = subprocess.run(
        [sys.executable, os.path.join(examples_dir, "dkim_truncation_sweep.py"), "100", "2000"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "at 2000: mailtester" in proc.stdout
