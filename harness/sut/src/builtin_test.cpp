// The builtin SUT against a second builtin SUT acting as the remote MX, on loopback, with a
// small world resolved in-process. Real sockets (127.201.x.y only), real DKIM keys.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>

#include "builtin.hpp"
#include "mailsim/auth/dkim.hpp"
#include "mailsim/dns/resolver.hpp"
#include "mailsim/sut/sut.hpp"

namespace mailsim::sut {
namespace {

using world::make_a;
using world::make_mx;

// A toy fabric: virtual address → 127.201.0.N, every port +10000 (no root needed).
struct ToyFabric {
  std::map<std::string, std::string> wire;  // virtual → wire
  std::set<std::uint16_t> blocked;          // egress ports dropped for everyone
  std::string base = "127.201.0.";
  std::string add(const std::string& virt) {
    std::string w = base + std::to_string(wire.size() + 1);
    wire[virt] = w;
    return w;
  }
  DialFn dial(const world::World& w) {
    return [this, &w](std::string_view from, std::string_view to, std::uint16_t port) {
      Route r;
      if (blocked.count(port)) {
        r.error = "connection timed out";
        return r;
      }
      auto it = wire.find(std::string(to));
      if (it == wire.end()) {
        r.error = "no route to host";
        return r;
      }
      r.ok = true;
      r.wire_address = it->second;
      r.wire_port = static_cast<std::uint16_t>(port + 10000);
      const world::Host* h = w.host(from);
      if (h && !h->addresses.empty()) r.local_address = wire.at(h->addresses.front());
      return r;
    };
  }
  ListenFn listen(const world::World& w) {
    return [this, &w](std::string_view host, std::uint16_t port) {
      const world::Host* h = w.host(host);
      return Endpoint{wire.at(h->addresses.front()), static_cast<std::uint16_t>(port + 10000)};
    };
  }
  VirtualFn virtual_for() {
    return [this](std::string_view wire_address) {
      for (const auto& [v, w] : wire)
        if (w == wire_address) return v;
      return std::string{};
    };
  }
};

class BuiltinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A loopback block per test, derived from its name: ctest runs each test in its own
    // process, in parallel, so a per-process counter would hand every test the same block.
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    unsigned block = 1 + static_cast<unsigned>(std::hash<std::string>{}(name) % 200);
    fabric.base = "127.201." + std::to_string(block) + ".";
    w.add_zone("nodeseek.com");
    w.add_zone("remote.test");
    w.add(make_a("mx.nodeseek.com", "12.34.56.78"));
    w.add(make_mx("nodeseek.com", 10, "mx.nodeseek.com"));
    w.add(make_a("mx.remote.test", "198.51.100.7"));
    w.add(make_mx("remote.test", 10, "mx.remote.test"));
    w.add_zone("nomx.test");
    w.add(make_a("nomx.test", "198.51.100.7"));  // no MX: implicit MX (RFC 5321 §5.1)
    w.add_host(host("mx.nodeseek.com", "12.34.56.78"));
    w.add_host(host("mx.remote.test", "198.51.100.7"));
    fabric.add("12.34.56.78");
    fabric.add("198.51.100.7");
    resolver = dns::make_world_resolver(w);
  }

  static world::Host host(const std::string& name, const std::string& address) {
    world::Host h;
    h.name = name;
    h.role = world::HostRole::sut;
    h.addresses = {address};
    h.open_ports = {25};
    return h;
  }

  SutContext context(const std::string& host_name) {
    SutContext c;
    c.world = &w;
    c.resolver = resolver.get();
    c.host_name = host_name;
    c.dial = fabric.dial(w);
    c.listen = fabric.listen(w);
    c.virtual_for = fabric.virtual_for();
    c.clock = &clock;
    c.seed = 42;
    c.io_timeout_ms = 2000;
    return c;
  }

  // Starts both ends; returns the DKIM record the sender wants published.
  DkimPublication start_both() {
    remote->start(context("mx.remote.test"));
    remote->provision({"remote.test", {"alice@remote.test"}, "", 1024});
    sender->start(context("mx.nodeseek.com"));
    auto prov = sender->provision({"nodeseek.com", {"postmaster@nodeseek.com"}, "", 1024});
    EXPECT_EQ(prov.dkim.size(), 1u);
    return prov.dkim.at(0);
  }

  Submission message(const std::string& to) {
    Submission s;
    s.envelope.mail_from = "postmaster@nodeseek.com";
    s.envelope.rcpt_to = {to};
    s.data = "From: Postmaster <postmaster@nodeseek.com>\nTo: <" + to +
             ">\nSubject: hello\n\n.leading dot line\nbody\n";
    return s;
  }

  world::World w;
  ToyFabric fabric;
  std::unique_ptr<dns::Resolver> resolver;
  SimClock clock;
  std::unique_ptr<Sut> sender = make_builtin_sut();
  std::unique_ptr<Sut> remote = make_builtin_sut();
};

std::string transcript(const DeliveryAttempt& a) {
  std::string s = a.detail + "\n";
  for (const auto& e : a.transcript) s += "C: " + e.command + "\nS: " + e.reply.summary() + "\n";
  return s;
}

TEST(BuiltinHelpers, SelectorIsPosteioShapedAndDeterministic) {
  std::string s = builtin_selector("nodeseek.com", 7, SimClock::kEpoch);
  EXPECT_EQ(s.size(), 12u);
  EXPECT_EQ(s.substr(0, 9), "s20260101");
  EXPECT_EQ(s, builtin_selector("nodeseek.com", 7, SimClock::kEpoch));
  EXPECT_EQ(rfc5322_date(SimClock::kEpoch), "Thu, 01 Jan 2026 00:00:00 +0000");
}

TEST(BuiltinHelpers, UnknownKindNamesTheChoices) {
  try {
    make_sut("qmail");
    FAIL() << "expected SutError";
  } catch (const SutError& e) {
    EXPECT_NE(std::string(e.what()).find("builtin"), std::string::npos) << e.what();
  }
}

TEST_F(BuiltinTest, DeliversSignedMailThatVerifiesAndIsStoredRemotely) {
  DkimPublication pub = start_both();
  EXPECT_EQ(pub.record_name, pub.selector + "._domainkey.nodeseek.com");
  // The runner's job: publish the record (the world resolver reads the world live).
  w.add(world::make_txt(pub.record_name, pub.txt));
  {
    // Same seed, same domain → same selector and key, so two runs print the same report.
    auto twin = make_builtin_sut();
    auto ctx = context("mx.nodeseek.com");
    ctx.listen = [](std::string_view, std::uint16_t) { return Endpoint{"127.201.250.1", 12525}; };
    twin->start(ctx);
    auto again = twin->provision({"nodeseek.com", {}, "", 1024});
    EXPECT_EQ(again.dkim.at(0).selector, pub.selector);
    EXPECT_EQ(again.dkim.at(0).txt, pub.txt);
  }

  std::string id = sender->submit(message("alice@remote.test"));
  sender->run_queue();
  SubmissionStatus st = sender->status(id);
  ASSERT_EQ(st.state, SubmissionState::delivered) << transcript(st.attempts.back());
  ASSERT_EQ(st.attempts.size(), 1u);
  const DeliveryAttempt& a = st.attempts[0];
  EXPECT_TRUE(a.connected);
  EXPECT_EQ(a.mx_host, "mx.remote.test");
  EXPECT_EQ(a.address, "198.51.100.7");
  EXPECT_FALSE(a.tls) << "no certificate was configured, so no STARTTLS was offered";
  EXPECT_EQ(a.final_reply.code, 250);
  // Each reply is paired with its command even when MAIL/RCPT/DATA are pipelined.
  std::map<std::string, int> codes;
  for (const auto& e : a.transcript) codes[e.command] = e.reply.code;
  EXPECT_EQ(codes["<connect>"], 220) << transcript(a);
  EXPECT_EQ(codes["RCPT TO:<alice@remote.test>"], 250) << transcript(a);
  EXPECT_EQ(codes["DATA"], 354) << transcript(a);
  EXPECT_EQ(codes["."], 250) << transcript(a);

  auto box = remote->mailbox("alice@remote.test");
  ASSERT_EQ(box.size(), 1u);
  EXPECT_EQ(box[0].client_ip, "12.34.56.78") << "the receiver sees the virtual address";
  EXPECT_EQ(box[0].helo, "mx.nodeseek.com");
  EXPECT_NE(box[0].data.find("\r\n.leading dot line\r\n"), std::string::npos)
      << "dot-stuffing must be undone: " << box[0].data;
  EXPECT_EQ(box[0].data.find("Message-ID:"), std::string::npos)
      << "the SUT relays what was submitted; it adds no Message-ID";

  auto verified = auth::verify_dkim(auth::Message::parse(box[0].data), *resolver,
                                    {SimClock::kEpoch, 0});
  EXPECT_EQ(verified.result, auth::Result::pass) << verified.cause;
}

TEST_F(BuiltinTest, BlockedEgressIsRetriedOnTheSimulatedClockThenUnreachable) {
  start_both();
  fabric.blocked.insert(25);
  std::string id = sender->submit(message("alice@remote.test"));
  auto real_start = std::chrono::steady_clock::now();
  sender->run_queue();
  SubmissionStatus st = sender->status(id);
  EXPECT_EQ(st.state, SubmissionState::failed);
  ASSERT_EQ(st.attempts.size(), builtin_retry_delays().size() + 1);
  EXPECT_EQ(st.attempts[0].connect_error, "connection timed out");
  EXPECT_EQ(st.attempts.back().outcome, AttemptOutcome::unreachable);
  EXPECT_EQ(st.attempts.back().at - st.attempts.front().at, 300 + 900 + 1800 + 3600);
  EXPECT_LT(std::chrono::steady_clock::now() - real_start, std::chrono::seconds(2))
      << "deferrals must take simulated, not real, time";
}

TEST_F(BuiltinTest, UnknownRemoteUserBouncesWith550) {
  start_both();
  std::string id = sender->submit(message("nobody@remote.test"));
  sender->run_queue();
  SubmissionStatus st = sender->status(id);
  EXPECT_EQ(st.state, SubmissionState::bounced);
  ASSERT_EQ(st.attempts.size(), 1u);
  EXPECT_EQ(st.attempts[0].final_reply.code, 550);
  EXPECT_EQ(st.attempts[0].final_reply.enhanced, "5.1.1");
}

TEST_F(BuiltinTest, NoMxFallsBackToTheDomainsAddress) {
  start_both();
  std::string id = sender->submit(message("alice@nomx.test"));
  sender->run_queue();
  SubmissionStatus st = sender->status(id);
  ASSERT_FALSE(st.attempts.empty());
  EXPECT_EQ(st.attempts[0].mx_host, "nomx.test");
  EXPECT_EQ(st.attempts[0].address, "198.51.100.7");
  // The remote MX is not an open relay for a domain it does not serve.
  EXPECT_EQ(st.attempts[0].final_reply.code, 554) << transcript(st.attempts[0]);
  EXPECT_EQ(st.state, SubmissionState::bounced);
}

TEST_F(BuiltinTest, NxdomainBouncesWithoutConnecting) {
  start_both();
  std::string id = sender->submit(message("x@nodeseek.com.invalid.remote.test"));
  sender->run_queue();
  SubmissionStatus st = sender->status(id);
  EXPECT_EQ(st.state, SubmissionState::bounced);
  EXPECT_FALSE(st.attempts.at(0).connected);
}

TEST_F(BuiltinTest, ProvisionRejectsMailboxOutsideDomain) {
  sender->start(context("mx.nodeseek.com"));
  EXPECT_THROW(sender->provision({"nodeseek.com", {"bob@other.test"}, "", 1024}), SutError);
}

}  // namespace
}  // namespace mailsim::sut
