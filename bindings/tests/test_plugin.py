"""The pytest plugin, used as a user would: fixtures, the catalog marker, catalog_params."""

import pytest

import mailsim
from mailsim.pytest_plugin import assert_expectations, catalog_params


def test_mail_world_is_a_fresh_baseline_named_after_the_test(mail_world, request):
    assert isinstance(mail_world, mailsim.Scenario)
    assert mail_world.name == request.node.name
    assert mail_world.world == mailsim.World.guide_baseline()


def test_mail_run_uses_its_own_block(mail_runner, mail_run, mail_world):
    mail_world.break_("ptr.remove", address="server")
    mail_world.probes.inbound = []
    mail_world.expect("outbound", "gmail", "rejected 5.7.25")
    r = mail_run(mail_world)
    assert r.block >= 150  # the plugin's blocks start high (--mailsim-first-block)
    assert mail_runner.seed == 1 and mail_runner.sut == "builtin"
    assert r.outcome("gmail").disposition == "rejected"
    assert_expectations(r)


def test_assert_expectations_fails_naming_the_unmet(mail_run, mail_world):
    mail_world.probes.inbound = []
    mail_world.probes.outbound = ["gmail"]
    mail_world.expect("outbound", "gmail", "spam")
    r = mail_run(mail_world)
    with pytest.raises(pytest.fail.Exception, match="1 unmet\n  .*gmail.*spam"):
        assert_expectations(r)


@pytest.mark.mailsim_catalog("guide-baseline", "spf-broken")
def test_marker_parametrizes_over_named_catalog_scenarios(catalog_scenario, request):
    assert catalog_scenario.name in ("guide-baseline", "spf-broken")
    assert request.node.callspec.id == catalog_scenario.name


@pytest.mark.mailsim_catalog
def test_marker_covers_the_whole_catalog(catalog_scenario):
    # every catalog scenario loads into a world where the guide's MX host still exists
    assert catalog_scenario.world.host("mx.nodeseek.com") is not None


def test_catalog_params():
    params = catalog_params()
    assert [p.id for p in params] == sorted(mailsim.catalog())
    (only,) = catalog_params(["rdns-missing"])
    assert only.id == "rdns-missing" and only.values[0].name == "rdns-missing"
    with pytest.raises(mailsim.ScenarioError, match="unknown scenario"):
        catalog_params(["nope"])


@pytest.mark.parametrize("scenario", catalog_params(["guide-baseline", "dkim-truncated"]))
def test_catalog_scenarios_meet_their_expectations(scenario, mail_run):
    assert_expectations(mail_run(scenario))
