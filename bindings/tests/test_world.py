"""World, Record, Host, DnsFault: the C++ world model seen from Python."""

import copy
import pickle

import pytest

import mailsim


def test_record_constructor_canonicalizes_and_types_compare_as_str():
    r = mailsim.Record("MX.NodeSeek.com.", "a", "12.34.56.78")
    assert r.name == "mx.nodeseek.com"
    assert r.type == "A" and r.type is mailsim.RrType.A
    assert str(r) == "mx.nodeseek.com. 3600 IN A 12.34.56.78"
    assert repr(r) == "<Record mx.nodeseek.com. 3600 IN A 12.34.56.78>"
    assert r.rdata == "12.34.56.78"


def test_long_txt_is_split_into_255_octet_strings_like_a_correct_panel():
    value = "v=DKIM1; k=rsa; p=" + "A" * 400
    r = mailsim.Record("s1._domainkey.nodeseek.com", "TXT", value)
    assert [len(s) for s in r.strings] == [255, len(value) - 255]
    assert r.text == value
    assert mailsim.split_txt(value) == r.strings
    explicit = mailsim.Record("x.nodeseek.com", "TXT", strings=["ab", "cd"])
    assert explicit.text == "abcd" and explicit.strings == ["ab", "cd"]


def test_mx_record_and_errors():
    mx = mailsim.Record("nodeseek.com", "MX", "MX.nodeseek.com.", preference=10)
    assert mx.rdata == "10 mx.nodeseek.com."
    with pytest.raises(ValueError, match="unknown record type 'AXFR'; valid: A, "):
        mailsim.Record("x", "AXFR", "y")
    with pytest.raises(ValueError, match="strings= is only for TXT"):
        mailsim.Record("x", "A", strings=["y"])


def test_record_equality_and_pickle():
    a = mailsim.Record("a.nodeseek.com", "A", "1.2.3.4")
    b = pickle.loads(pickle.dumps(a))
    assert a == b
    b.ttl = 60
    assert a != b
    b.type = "aaaa"
    assert b.type == "AAAA"


def test_guide_baseline_is_the_guide():
    w = mailsim.World.guide_baseline()
    assert [r.value for r in w.find("mx.nodeseek.com", "A")] == ["12.34.56.78"]
    assert [r.text for r in w.find_txt("nodeseek.com", "v=spf1")] == ["v=spf1 a mx -all"]
    assert [r.value for r in w.find(mailsim.reverse_name("12.34.56.78"), "PTR")] == [
        "mx.nodeseek.com"
    ]
    assert "nodeseek.com" in w.zones
    assert w.zone_for("mx.nodeseek.com") == "nodeseek.com"
    assert w.zone_for("example.net") is None
    assert w.name_exists("nodeseek.com")
    assert "mx.nodeseek.com. 3600 IN A 12.34.56.78" in w.zone_text
    assert w.to_zone_text() == w.zone_text
    sut = w.host("mx.nodeseek.com")
    assert sut.role == "sut" and sut.addresses == ["12.34.56.78"] and 25 in sut.open_ports
    assert w.host_by_address("12.34.56.78").name == "mx.nodeseek.com"
    assert {p for p, _, _ in mailsim.persona_domains()} == set(mailsim.all_personas())
    other = mailsim.World.guide_baseline(domain="example.org", server_ipv4="192.0.2.7")
    assert [r.value for r in other.find("mx.example.org", "A")] == ["192.0.2.7"]
    assert repr(w).startswith("<World ") and f"{len(w)} records" in repr(w)


def test_add_remove_replace_find():
    w = mailsim.World()
    with pytest.raises(ValueError, match="www.example.org"):
        w.add(mailsim.Record("www.example.org", "A", "192.0.2.1"))
    w.add_zone("example.org")
    w.add(mailsim.Record("www.example.org", "A", "192.0.2.1"))
    w.add(mailsim.Record("www.example.org", "A", "192.0.2.2"))
    w.add(mailsim.Record("www.example.org", "TXT", "hello"))
    assert [r.value for r in w.find("WWW.example.org.", "a")] == ["192.0.2.1", "192.0.2.2"]
    assert len(w.find("www.example.org")) == 3
    w.replace(mailsim.Record("www.example.org", "A", "192.0.2.9"))
    assert [r.value for r in w.find("www.example.org", "A")] == ["192.0.2.9"]
    assert w.remove("www.example.org", "TXT") == 1
    assert w.remove("www.example.org") == 1
    assert w.find("www.example.org") == []


def test_faults_and_hosts():
    w = mailsim.World.guide_baseline()
    w.add_fault("_dmarc.nodeseek.com", "servfail", type="TXT")
    assert w.fault_for("_dmarc.nodeseek.com", "TXT") == "servfail"
    assert w.fault_for("_dmarc.nodeseek.com", "A") is None
    (f,) = w.faults
    assert f.kind is mailsim.DnsFaultKind.servfail and f.type == "TXT"
    assert f == mailsim.DnsFault("_dmarc.nodeseek.com", "servfail", "TXT")
    with pytest.raises(ValueError, match="unknown DNS fault 'nxdomain'; valid: servfail"):
        w.add_fault("x.nodeseek.com", "nxdomain")
    w.clear_faults("_dmarc.nodeseek.com")
    assert w.faults == []

    h = mailsim.Host("web.nodeseek.com", "web", ["12.34.56.99"], {80, 443})
    w.add_host(h)
    assert w.host("web.nodeseek.com") == h
    assert "web.nodeseek.com (web) [12.34.56.99]" in repr(h)
    # host() is live: editing it edits the world
    w.host("mx.nodeseek.com").starttls = False
    assert w.host("mx.nodeseek.com").starttls is False
    assert w.host("nope.example") is None
    with pytest.raises(ValueError, match="unknown host role 'db'"):
        mailsim.Host("x", "db")


def test_world_copy_is_independent():
    w = mailsim.World.guide_baseline()
    c = copy.deepcopy(w)
    assert c == w
    c.remove("mx.nodeseek.com", "A")
    assert c != w and w.find("mx.nodeseek.com", "A")
    assert w.copy() == w
