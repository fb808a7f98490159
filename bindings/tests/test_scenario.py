"""Scenario: breakages by their YAML names, expectations, probes, YAML round trips, catalog."""

import copy
import os

import pytest

import mailsim


def test_new_scenario_extends_the_guide(mail_world):
    assert mail_world.extends == "guide-baseline"
    assert mail_world.world == mailsim.World.guide_baseline()
    assert mail_world.breakages == [] and mail_world.inherited_breakages == 0
    assert mail_world.probes.outbound == mailsim.all_personas()
    assert mail_world.expectations.outbound.empty


def test_world_stage_breakage_changes_the_world_now(mail_world):
    s = mail_world.break_("spf.set", value="v=spf1 -all")
    assert s is mail_world  # chainable
    assert [r.text for r in s.world.find_txt("nodeseek.com", "v=spf1")] == ["v=spf1 -all"]
    s.break_("ptr.remove", address="server")
    assert s.world.find(mailsim.reverse_name("12.34.56.78"), "PTR") == []
    s.break_("proxy.on", name="mx")  # a parameter called `name` reaches the breakage
    assert s.world.find("mx.nodeseek.com", "A")[0].value != "12.34.56.78"
    assert [str(b) for b in s.own_breakages] == [
        "spf.set: {value: v=spf1 -all}",
        "ptr.remove: {address: server}",
        "proxy.on: {name: mx}",
    ]
    assert s.unbreak("ptr.remove") == 1
    assert s.world.find(mailsim.reverse_name("12.34.56.78"), "PTR")
    assert [r.text for r in s.world.find_txt("nodeseek.com", "v=spf1")] == ["v=spf1 -all"]
    assert s.unbreak("ptr.remove") == 0


def test_publish_stage_breakage_waits_for_the_runner(mail_world):
    before = mail_world.world.copy()
    mail_world.break_("dkim.truncate", at=255)
    assert mail_world.world == before
    assert mail_world.breakages == [mailsim.Breakage("dkim.truncate", at=255)]
    assert mailsim.find_breakage("dkim.truncate").stage == "publish"


def test_breakage_errors_carry_the_yaml_loaders_message(mail_world, tmp_path):
    with pytest.raises(mailsim.ScenarioError) as from_python:
        mail_world.break_("dkim.truncate", at="x")
    assert isinstance(from_python.value, ValueError)
    f = tmp_path / "bad.yaml"
    f.write_text("name: bad\nextends: guide-baseline\nbreakages:\n  - dkim.truncate: {at: x}\n")
    with pytest.raises(mailsim.ScenarioError) as from_yaml:
        mailsim.Scenario.load(f)
    assert str(from_python.value) in str(from_yaml.value)
    assert str(from_yaml.value).startswith(str(f) + ":")
    with pytest.raises(mailsim.ScenarioError, match="unknown breakage 'spf.sett'; valid: "):
        mail_world.break_("spf.sett")
    with pytest.raises(TypeError, match="not list"):
        mail_world.break_("spf.set", value=["x"])
    assert mail_world.breakages == []


def test_expectations_take_every_yaml_form(mail_world):
    s = mail_world
    s.expect("outbound", "gmail", "rejected 5.7.25")
    s.expect("outbound", "mailtester", "<= 6")
    s.expect("outbound", "all", "inbox")
    s.expect("inbound", "yahoo", {"disposition": "spam", "score": ">= 2", "reply": "4.7.0"})
    e = s.expectations.outbound.for_persona("gmail")
    assert e.disposition == "rejected" and e.enhanced_code == "5.7.25" and e.score is None
    m = s.expectations.outbound.personas["mailtester"]
    assert m.disposition is None and m.score == "<= 6"
    assert m.matches_score(6) and not m.matches_score(6.5)
    assert s.expectations.outbound.for_persona("outlook").disposition == "inbox"
    y = s.expectations.inbound.personas["yahoo"]
    assert (y.disposition, y.score, y.enhanced_code) == ("spam", ">= 2", "4.7.0")
    assert s.expectations.inbound.for_persona("gmail") is None
    assert "gmail: rejected 5.7.25" in repr(s.expectations)
    s.expect("outbound", "gmail", None)
    assert "gmail" not in s.expectations.outbound.personas
    with pytest.raises(mailsim.ScenarioError, match="bad expectation 'lost'; valid: inbox"):
        s.expect("outbound", "gmail", "lost")
    with pytest.raises(mailsim.ScenarioError, match="unknown key 'gmial'"):
        s.expect("outbound", "gmial", "inbox")
    with pytest.raises(mailsim.ScenarioError, match="unknown direction 'sideways'"):
        s.expect("sideways", "gmail", "inbox")
    s.clear_expectations()
    assert s.expectations.outbound.empty and s.expectations.inbound.empty


def test_probes_and_message_shape_round_trip_through_yaml(mail_world):
    s = mail_world
    s.probes.outbound = ["gmail"]
    s.probes.inbound = []
    s.probes.message.missing_headers = ["date"]
    s.probes.message.html_only = True
    s.seed = 42
    s.break_("spf.remove")
    s.expect("outbound", "gmail", "spam")
    again = mailsim.Scenario.from_yaml(s.to_yaml())
    assert again.probes.outbound == ["gmail"] and again.probes.inbound == []
    assert again.probes.message.missing_headers == ["date"] and again.probes.message.html_only
    assert again.seed == 42
    assert again.world == s.world
    assert again.own_breakages == s.own_breakages
    assert again.expectations.outbound.personas["gmail"] == s.expectations.outbound.personas["gmail"]
    assert "html_only=True" in repr(s.probes.message)


def test_save_and_load_a_file(mail_world, tmp_path):
    mail_world.teaches = "A teaching sentence."
    mail_world.break_("root_a.remove")
    path = tmp_path / "mine.yaml"
    mail_world.save(path)
    loaded = mailsim.Scenario.load(str(path))
    assert loaded.name == mail_world.name and loaded.teaches == "A teaching sentence."
    assert loaded.source_file == str(path)
    assert loaded.world == mail_world.world
    assert mailsim.scenario(str(path)).world == loaded.world


def test_extends_a_catalog_scenario_inherits_its_breakages():
    s = mailsim.Scenario("worse", extends="spf-broken")
    s.break_("ptr.remove", address="server")
    assert s.inherited_breakages == 1
    assert [b.name for b in s.breakages] == ["spf.set", "ptr.remove"]
    assert [b.name for b in s.own_breakages] == ["ptr.remove"]
    assert "spf.set" not in s.to_yaml() and "extends: spf-broken" in s.to_yaml()
    with pytest.raises(mailsim.ScenarioError, match="nope"):
        mailsim.Scenario("x", extends="nope")


def test_baseline_options_rebuild_the_world(mail_world):
    b = mail_world.baseline
    assert b.domain == "nodeseek.com" and b.server_ipv4 == "12.34.56.78"
    b.server_ipv4 = "192.0.2.10"
    mail_world.baseline = b
    assert [r.value for r in mail_world.world.find("mx.nodeseek.com", "A")] == ["192.0.2.10"]


def test_catalog_is_the_yaml_folder(catalog_dir):
    cat = mailsim.catalog()
    names = sorted(f[:-5] for f in os.listdir(catalog_dir) if f.endswith(".yaml"))
    assert sorted(cat) == names
    assert os.path.samefile(mailsim.catalog_dir(), catalog_dir)
    assert cat["guide-baseline"].expectations.inbound.all.disposition == "inbox"
    # fresh copies: editing one does not leak into the next call
    cat["spf-broken"].break_("root_a.remove")
    assert [b.name for b in mailsim.catalog()["spf-broken"].breakages] == ["spf.set"]
    assert mailsim.scenario("rdns-missing").name == "rdns-missing"
    with pytest.raises(mailsim.ScenarioError, match="unknown scenario 'nope'; valid: "):
        mailsim.scenario("nope")


def test_breakage_catalog():
    infos = mailsim.breakage_catalog()
    names = [i.name for i in infos]
    assert names == sorted(names)
    for n in ("spf.set", "spf.remove", "ptr.remove", "ptr.set", "dkim.truncate",
              "dkim.unpublished", "proxy.on", "port25.blocked", "dmarc.set", "root_a.remove",
              "record.add", "record.replace", "record.remove", "dns.fault"):
        assert n in names
    t = mailsim.find_breakage("dkim.truncate")
    assert t.models and [p.name for p in t.params][0] == "at"
    assert repr(t).startswith("<BreakageInfo dkim.truncate(")
    assert mailsim.find_breakage("nope") is None
    b = mailsim.Breakage("dns.fault", name="_dmarc", kind="servfail")
    b.validate()
    assert b.params == {"name": "_dmarc", "kind": "servfail"}
    assert mailsim.Breakage("tls.off") == mailsim.Breakage("tls.off")
    with pytest.raises(mailsim.ScenarioError):
        mailsim.Breakage("dkim.truncate", at=0).validate()
    assert mailsim.Breakage("x", flag=True).params == {"flag": "true"}


def test_scenario_copy_is_independent(mail_world):
    c = copy.copy(mail_world)
    c.break_("spf.remove")
    assert mail_world.breakages == [] and c.world != mail_world.world
    assert "spf.remove" in repr(c)
    assert copy.deepcopy(mail_world).world == mail_world.world == mail_world.copy().world
