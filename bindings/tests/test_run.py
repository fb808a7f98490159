"""Runner, Result, Outcome: real runs on the loopback fabric with the builtin SUT."""

import _thread
import json
import threading
import time

import pytest

import mailsim


@pytest.fixture(scope="module")
def baseline_result():
    return mailsim.run("guide-baseline")


def test_guide_baseline_arrives_everywhere(baseline_result):
    r = baseline_result
    assert r.ok and r.error == "" and not r.cancelled
    assert r.passed and bool(r) and r.unmet == 0
    assert len(r.outcomes) == 10
    for o in r.outcomes:
        assert o.disposition == "inbox", o.explain()
        assert o.disposition is mailsim.Disposition.inbox
    gmail = r.outcome("gmail")
    assert gmail.direction == "outbound" and gmail.scenario == "guide-baseline"
    assert gmail.reply.code == 250 and gmail.reply.positive and not gmail.reply.permanent
    assert str(gmail.reply).startswith("250 ")
    assert any(line.startswith("C: EHLO mx.nodeseek.com") for line in gmail.transcript)
    assert "dkim=pass" in gmail.authentication_results
    assert gmail.score is None and gmail.deductions == []
    assert r.outcome("mailtester").score == 10.0
    assert r.outcome("gmail", "inbound").direction is mailsim.Direction.inbound
    assert r.outcome("nobody") is None
    assert all(c.met and bool(c) for c in r.expectations)
    assert r.dkim and r.dkim[0].domain == "nodeseek.com" and r.dkim[0].bits >= 1024
    assert r.dkim[0].record_name in r.zone_text
    assert r.elapsed_ms > 0 and r.seed == 1
    assert repr(r).startswith("<Result guide-baseline: passed [out/gmail=inbox")
    assert "<Outcome guide-baseline outbound/gmail: inbox (250 " in repr(gmail)


def test_reports_render_the_cli_formats(baseline_result):
    r = baseline_result
    table = r.table()
    assert table.splitlines()[0].split()[:3] == ["scenario", "out:gmail", "out:outlook"]
    assert "guide-baseline" in table
    doc = json.loads(r.to_json())
    assert doc["schema"] == "mailsim.run/1" and doc["passed"] is True
    assert "guide-baseline" in json.dumps(doc)
    one = json.loads(r.outcome("gmail").to_json())
    assert one["persona"] == "gmail" and one["disposition"] == "inbox"
    assert "gmail" in r.outcome("gmail").explain()
    assert "guide-baseline" in r.explain()
    assert mailsim.table([r]) == table


def test_rdns_missing_is_rejected_by_gmail_with_a_cause_chain_and_fix():
    r = mailsim.run("rdns-missing", personas=["gmail"])
    assert [(o.direction, o.persona) for o in r.outcomes] == [("outbound", "gmail"), ("inbound", "gmail")]
    gmail = r.outcome("gmail")
    assert gmail.disposition == "rejected"
    assert gmail.reply.code == 550 and gmail.reply.enhanced == "5.7.25" and gmail.reply.permanent
    kinds = [f.kind for f in gmail.findings]
    assert "verdict" in kinds and kinds.index("verdict") > 0  # facts/checks come first
    assert any(f.check == "iprev" for f in gmail.findings)
    assert gmail.fix is not None and gmail.fix.text
    assert all(isinstance(str(f), str) and repr(f).startswith("<Finding ") for f in gmail.findings)
    assert repr(gmail.fix).startswith("<Fix ")


def test_expectations_are_judged_with_why():
    s = mailsim.Scenario("wrong-expectation")
    s.probes.inbound = []
    s.expect("outbound", "gmail", "rejected")
    r = mailsim.run(s, personas=["gmail"])
    assert not r.passed and r.unmet == 1
    (check,) = r.expectations
    assert not check.met and check.persona == "gmail" and check.expected == "rejected"
    assert check.actual.startswith("inbox") and "gmail" in check.why
    assert check.direction == "outbound"
    assert "UNMET" in repr(check) and "1 unmet" in repr(r)


def test_python_breakage_changes_the_run(mail_world):
    mail_world.break_("spf.set", value="v=spf1 ip4:198.51.100.7 -all")
    mail_world.probes.inbound = []
    r = mailsim.run(mail_world, personas=["mailtester"], seed=3)
    (o,) = r.outcomes
    assert o.score < 10 and any("SPF" in d.rule for d in o.deductions)
    assert r.seed == 3
    assert any(repr(d).startswith("<Deduction ") for d in o.deductions)


def test_run_all_sorts_by_name_and_runner_properties():
    runner = mailsim.Runner(personas=["yahoo"], jobs=2, run_index=120, seed=5)
    assert (runner.personas, runner.seed, runner.sut) == (["yahoo"], 5, "builtin")
    assert "seed=5" in repr(runner)
    cat = mailsim.catalog()
    results = runner.run_all([cat["spf-broken"], cat["guide-baseline"]])
    assert [r.scenario for r in results] == ["guide-baseline", "spf-broken"]
    assert all(r.ok for r in results)
    assert results[0].outcome("yahoo").disposition == "inbox"
    many = mailsim.run(["no-root-a", "guide-baseline"], personas=["gmail"])
    assert [r.scenario for r in many] == ["guide-baseline", "no-root-a"]


def test_runner_rejects_bad_options_with_a_clear_message():
    with pytest.raises(ValueError, match="shard"):
        mailsim.Runner(shard="3/2")
    with pytest.raises(ValueError):
        mailsim.Runner(sut="no-such-sut")


def test_request_stop_cancels_a_run():
    runner = mailsim.Runner(run_index=130)
    runner.request_stop()
    assert runner.stop_requested
    r = runner.run(mailsim.scenario("guide-baseline"))
    assert r.cancelled and not r.passed and "cancelled" in repr(r)


def test_the_gil_is_released_while_a_run_works():
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.005)

    t = threading.Thread(target=tick)
    t.start()
    try:
        start = time.monotonic()
        r = mailsim.run(["guide-baseline", "spf-broken", "rdns-missing"], jobs=1)
        end = time.monotonic()
    finally:
        stop.set()
        t.join()
    assert all(x.ok for x in r)
    during = [x for x in ticks if start < x < end]
    # the other thread kept running during the C++ work (with the GIL held it could not)
    assert end - start > 0.05 and len(during) >= 5, (end - start, len(during))


def test_ctrl_c_stops_a_run_cleanly():
    scenarios = list(mailsim.catalog().values())
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        mailsim.Runner(jobs=1, run_index=200).run_all(scenarios * 3)
    elapsed = time.monotonic() - start
    timer.cancel()
    assert elapsed < 15, elapsed
    # everything the interrupted run started is gone: the same blocks serve a new run
    again = mailsim.Runner(jobs=1, run_index=200).run(mailsim.scenario("guide-baseline"))
    assert again.ok, again.error
