// Cost per message of the full check set a receiver runs (iprev, DNSBL, SPF, DKIM, DMARC)
// against a real FakeDnsServer on 127.0.0.1 through the wire resolver, split per check,
// beside OpenSSL's raw RSA-2048 verify rate measured in the same run (the physical limit
// of the one expensive operation in the set). The world is the guide baseline
// (posteio-guide.md §2–§3) with the DKIM key published (guide §6); the message is signed
// by nodeseek.com and arrives from the guide's server, 12.34.56.78.
// With "world" as the second argument the checks ask the in-process world resolver instead
// (as bench/smtp's ReceivingMta does): no UDP round trip, so the figures are the checks'
// own CPU cost. The HELO-identity SPF check the receiving MTA also runs is measured too.
// Bounded: the message loop stops after `seconds` or kMaxMessages, whichever comes first.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "mailsim/auth/checks.hpp"
#include "mailsim/dns/resolver.hpp"
#include "mailsim/dns/server.hpp"
#include "mailsim/world/baseline.hpp"
#include "openssl_peer.hpp"

namespace {

using namespace mailsim;
using bench::Clock;

constexpr long kMaxMessages = 200'000;
constexpr std::int64_t kNow = 1700000060;

enum Check { kIprev, kDnsbl, kSpfHelo, kSpf, kDkim, kDmarc, kChecks };
constexpr std::array<const char*, kChecks> kNames = {"iprev", "dnsbl", "spf-helo", "spf",
                                                     "dkim",  "dmarc"};

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  bool in_process = argc > 2 && std::string(argv[2]) == "world";
  if (!(seconds > 0 && seconds <= 600) || (argc > 2 && !in_process) || argc > 3) {
    std::fprintf(stderr, "usage: %s [seconds per loop, 0 < s <= 600] [world]\n", argv[0]);
    return 2;
  }

  auth::DkimKey key = auth::generate_dkim_key(world::kGuideDomain, "dkim", 42, 2048);
  world::World w = world::guide_baseline();
  w.add(world::make_txt(key.selector + "._domainkey." + key.domain, key.public_txt));
  const world::World local = w;  // the in-process resolver reads it; it outlives the loop
  auto world_resolver = dns::make_world_resolver(local);
  dns::FakeDnsServer server(std::move(w));  // binds 127.0.0.1 only
  server.start();
  auto resolver = in_process ? std::move(world_resolver)
                             : dns::make_wire_resolver(server.address(), server.port(),
                                                       std::chrono::milliseconds(1000));

  const std::string client_ip = world::kGuideServerIp;
  const std::string helo = world::kGuideMxHost;
  const std::string mail_from = std::string("hello@") + world::kGuideDomain;
  std::string body;
  for (int i = 0; i < 40; ++i) body += "A line of an ordinary plain-text message body.\r\n";
  auth::Message m = auth::Message::parse(
      "From: hello@nodeseek.com\r\nTo: someone@gmail.com\r\nSubject: bench\r\n"
      "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <b@nodeseek.com>\r\n\r\n" + body);
  auth::Message signed_m = auth::Message::parse(auth::sign_dkim(m, key, {.now = kNow - 60}) + m.raw);
  const std::vector<std::string> dnsbl_zones = {world::kDnsblZone};

  // One message through every check; each check's wall time added to `spent`. A result
  // other than the guide setup's expected one stops the bench: a failing check that
  // returns early would make the figures meaningless.
  std::array<double, kChecks> spent{};
  auto one_message = [&](bool print) {
    auto t0 = Clock::now();
    auth::IprevResult iprev = auth::check_iprev(client_ip, *resolver);
    auto t1 = Clock::now();
    auth::DnsblResult dnsbl = auth::check_dnsbl(client_ip, dnsbl_zones, *resolver);
    auto t2 = Clock::now();
    auth::SpfResult spf_helo = auth::check_spf_helo(client_ip, helo, *resolver);
    auto t3 = Clock::now();
    auth::SpfResult spf = auth::check_spf_mailfrom(client_ip, helo, mail_from, *resolver);
    auto t4 = Clock::now();
    auth::DkimResult dkim = auth::verify_dkim(signed_m, *resolver, {.now = kNow});
    auto t5 = Clock::now();
    auth::DmarcResult dmarc = auth::check_dmarc(signed_m, spf, dkim, *resolver);
    auto t6 = Clock::now();
    std::array<const auth::CheckResult*, kChecks> results = {&iprev, &dnsbl, &spf_helo, &spf,
                                                             &dkim,  &dmarc};
    for (int c = 0; c < kChecks; ++c) {
      if (print || results[c]->result != auth::Result::pass) {
        std::printf("  %-5s = %s  %s\n", kNames[c],
                    std::string(auth::to_string(results[c]->result)).c_str(),
                    results[c]->cause.c_str());
      }
      if (results[c]->result != auth::Result::pass) {
        std::fprintf(stderr, "bench: %s did not pass; the setup is wrong\n", kNames[c]);
        std::exit(1);
      }
    }
    std::array<Clock::time_point, kChecks + 1> t = {t0, t1, t2, t3, t4, t5, t6};
    for (int c = 0; c < kChecks; ++c)
      spent[c] += std::chrono::duration<double>(t[c + 1] - t[c]).count();
  };

  if (in_process)
    std::printf("guide world, in-process world resolver (no DNS wire); message %zu bytes, "
                "rsa-sha256 2048-bit, relaxed/relaxed; from %s\n",
                signed_m.raw.size(), client_ip.c_str());
  else
    std::printf("guide world on FakeDnsServer %s:%u (wire resolver, UDP); message %zu bytes, "
                "rsa-sha256 2048-bit, relaxed/relaxed; from %s\n",
                server.address().c_str(), server.port(), signed_m.raw.size(),
                client_ip.c_str());
  one_message(true);  // warm-up, and shows what is being measured
  spent = {};
  std::uint64_t queries_before = server.stats().queries;

  long n = 0;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  while (n < kMaxMessages && Clock::now() < deadline) {
    one_message(false);
    ++n;
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::uint64_t queries = server.stats().queries - queries_before;
  server.stop();

  bench::OpenSslRsaVerify peer(key.private_key_pem, m.raw);
  double rsa_rate = bench::rate([&] { if (!peer.verify()) std::abort(); }, seconds, 1'000'000);

  std::printf("%ld messages in %.2f s (%.1f DNS queries per message over the wire)\n", n,
              elapsed, static_cast<double>(queries) / static_cast<double>(n));
  std::printf("%-28s %10s %12s %8s\n", "check", "us/message", "checks/s", "share");
  double total = 0;
  for (double s : spent) total += s;
  for (int c = 0; c < kChecks; ++c) {
    std::printf("%-28s %10.1f %12.0f %7.1f%%\n", kNames[c], 1e6 * spent[c] / n, n / spent[c],
                100.0 * spent[c] / total);
  }
  std::printf("%-28s %10.1f %12.0f  (%.0f messages/s, %.0f checks/s)\n", "full set", 1e6 * total / n,
              n / total, n / total, kChecks * n / total);
  std::printf("%-28s %10.1f %12.0f  (same run; DKIM check = %.1f raw verifies)\n",
              "OpenSSL RSA-2048 verify", 1e6 / rsa_rate, rsa_rate,
              rsa_rate * spent[kDkim] / n);
  std::printf("full set per message = %.1f raw RSA-2048 verifies\n", rsa_rate * total / n);
  return 0;
}
