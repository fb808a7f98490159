// Netns mode end to end, below the Runner: the fake DNS in its own namespace on the world's
// address, a gmail ReceivingMta in gmail's namespace, and the world's seal seen from the
// SUT's namespace (issue 8). Then a real Postfix + OpenDKIM sends a probe to gmail through
// the fake DNS. Needs root, skipped otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "mailsim/dns/server.hpp"
#include "mailsim/mta/receiving_mta.hpp"
#include "mailsim/net/netns_fabric.hpp"
#include "mailsim/smtp/test_ca.hpp"
#include "mailsim/sut/postfix.hpp"
#include "mailsim/world/baseline.hpp"

namespace mailsim {
namespace {

using namespace std::chrono_literals;

struct World {
  std::shared_ptr<world::World> w = std::make_shared<world::World>(world::guide_baseline());
  std::unique_ptr<net::NetnsFabric> fabric;
  std::unique_ptr<dns::FakeDnsServer> dns;
  std::string dns_ip;
  explicit World(unsigned n) {
    fabric = std::make_unique<net::NetnsFabric>(*w, net::NetnsOptions{n, "mailsimt"});
    const world::Host* d = w->host(world::kFakeDnsHost);
    dns_ip = d->addresses.front();
    dns::ServerOptions o;
    o.address = dns_ip;
    o.port = 53;
    o.in_sealed_namespace = true;
    dns = std::make_unique<dns::FakeDnsServer>(w, o);
    fabric->run_in(d->name, [&] { dns->start(); });
    fabric->write_resolv_conf("mx.nodeseek.com", dns_ip);
  }
  ~World() {
    if (dns) dns->stop();
  }
};

class NetnsE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = net::netns_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  }
};

TEST_F(NetnsE2e, TheWorldIsSealedFromTheSutNamespace) {
  World world(211);
  auto& f = *world.fabric;
  // DNS through resolv.conf reaches the fake DNS: a world name resolves to its world address.
  auto in = f.exec("mx.nodeseek.com", {"dig", "+short", "+tries=1", "+time=2", "mx.nodeseek.com", "A"});
  EXPECT_EQ(in.output, "12.34.56.78\n") << in.output;
  auto before = world.dns->stats().queries;
  // A name outside the world is REFUSED by the fake DNS (it never recurses) …
  auto out = f.exec("mx.nodeseek.com", {"dig", "+tries=1", "+time=2", "example.org", "A"});
  EXPECT_NE(out.output.find("status: REFUSED"), std::string::npos) << out.output;
  EXPECT_EQ(world.dns->stats().queries, before + 1) << "the query reached the fake DNS";
  // … and no other resolver answers: a documentation address (RFC 5737) has no route, so
  // dig fails at once without a packet leaving.
  auto other = f.exec("mx.nodeseek.com", {"dig", "+tries=1", "+time=1", "@192.0.2.53", "example.org"});
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.output.find("unreachable"), std::string::npos) << other.output;
  // No route exists for any address outside the world (route lookup, no socket).
  for (const char* addr : {"192.0.2.1", "198.51.100.7", "100.64.0.1", "10.0.0.1", "172.16.0.1"}) {
    auto r = f.exec("mx.nodeseek.com", {"ip", "route", "get", addr});
    EXPECT_NE(r.exit_code, 0) << addr << ": " << r.output;
  }
  auto routes = f.exec("mx.nodeseek.com", {"ip", "-4", "route", "show"});
  for (const auto& h : world.w->hosts()) {
    for (const auto& a : h.addresses) {
      if (a.find(':') != std::string::npos || h.name == "mx.nodeseek.com") continue;
      EXPECT_NE(routes.output.find(a + " dev eth0"), std::string::npos) << a;
    }
  }
}

TEST_F(NetnsE2e, PostfixSignsAndDeliversToGmailThroughTheFakeDns) {
  if (::access("/usr/sbin/postfix", X_OK) != 0 || ::access("/usr/sbin/opendkim", X_OK) != 0)
    GTEST_SKIP() << "postfix/opendkim not installed (scripts/bootstrap)";
  World world(212);
  auto& f = *world.fabric;
  const world::Host* gmail = nullptr;
  for (const auto& h : world.w->hosts())
    if (h.role == world::HostRole::receiver && h.persona == "gmail") gmail = &h;
  ASSERT_NE(gmail, nullptr);
  smtp::TestCa ca("netns-e2e");
  auto resolver = dns::make_namespace_wire_resolver(world.dns_ip, 53, 2000ms);
  mta::MtaConfig mc;
  mc.persona = "gmail";
  mc.host = gmail->name;
  mc.listen_address = gmail->addresses.front();
  mc.port = 25;
  mc.in_sealed_namespace = true;
  mc.tls = ca.server_context(gmail->name);
  mc.command_timeout = 5000ms;
  mta::ReceivingMta rx(mc, *resolver);
  f.run_in(gmail->name, [&] { rx.start(); });

  auto sut = sut::make_postfix_sut();
  sut::SutContext ctx;
  ctx.world = world.w.get();
  ctx.host_name = "mx.nodeseek.com";
  ctx.dns_server = {world.dns_ip, 53};
  ctx.netns = f.ns_for("mx.nodeseek.com");
  auto cert = ca.issue("mx.nodeseek.com");
  ctx.tls = {ca.ca_cert_pem(), cert.chain_pem, cert.key_pem};
  sut::SimClock clock;
  ctx.clock = &clock;
  sut->start(ctx);
  auto prov = sut->provision({"nodeseek.com", {"postmaster@nodeseek.com"}, "", 2048});
  ASSERT_EQ(prov.dkim.size(), 1u);
  world.dns->update([&](world::World& live) {
    for (const auto& p : prov.dkim) live.replace(world::make_txt(p.record_name, p.txt));
  });
  sut::Submission sub;
  sub.envelope.mail_from = "postmaster@nodeseek.com";
  sub.envelope.rcpt_to = {"probe@gmail.com"};
  sub.data = "From: <postmaster@nodeseek.com>\r\nTo: <probe@gmail.com>\r\nSubject: netns\r\n"
             "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\nMessage-ID: <netns-1@nodeseek.com>\r\n\r\nhello\r\n";
  std::string id = sut->submit(sub);
  sut->run_queue();
  auto st = sut->status(id);
  std::string logs;
  for (const auto& l : sut->logs()) logs += l + "\n";
  EXPECT_EQ(st.state, sut::SubmissionState::delivered) << logs;
  auto got = rx.wait_for(1, 5000ms);
  ASSERT_EQ(got.size(), 1u) << logs;
  // gmail saw the guide's real address and a DKIM signature that verified against the key
  // published in the fake DNS.
  EXPECT_EQ(got[0].client_ip, "12.34.56.78");
  EXPECT_NE(got[0].authentication_results.find("dkim=pass"), std::string::npos)
      << got[0].authentication_results << "\n" << logs;
  EXPECT_TRUE(got[0].tls.used);
  rx.stop();
  sut->stop();
}

}  // namespace
}  // namespace mailsim
