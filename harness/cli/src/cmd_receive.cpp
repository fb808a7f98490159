// `mailsim receive`: one persona's ReceivingMta on a loopback address, resolving through the
// fake DNS over the wire, so anyone can point swaks at it. Prints each Delivery as a line.
#include <pthread.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <system_error>

#include <fmt/core.h>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "commands.hpp"
#include "mailsim/dns/resolver.hpp"
#include "mailsim/mta/receiving_mta.hpp"
#include "mailsim/smtp/test_ca.hpp"

namespace mailsim::cli {
namespace {

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

// "127.0.0.1:2525" or "[::1]:2525": a loopback IP literal (names are not resolved: the only
// resolver is the fake DNS) and a decimal port from `min_port` to 65535. Errors name the
// flag, what was given and what is expected; main() prints them and exits 2.
HostPort parse_host_port(const std::string& text, const char* what, unsigned min_port) {
  const std::string expected = fmt::format("expected a loopback ADDRESS:PORT, e.g. 127.0.0.1:{}",
                                           std::string_view(what) == "--dns" ? "5300" : "2525");
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw std::invalid_argument(fmt::format("{} '{}': {}", what, text, expected));
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string digits = text.substr(colon + 1);
  unsigned long port = 70000;
  if (digits.size() <= 5 && std::all_of(digits.begin(), digits.end(),
                                        [](unsigned char c) { return std::isdigit(c) != 0; }))
    port = std::stoul(digits);
  if (port < min_port || port > 65535)
    throw std::invalid_argument(
        fmt::format("{} '{}': the port must be a number from {} to 65535", what, text, min_port));
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (ec)
    throw std::invalid_argument(
        fmt::format("{} '{}': '{}' is not an IP address (names are not resolved); {}", what, text,
                    host, expected));
  if (!mta::is_loopback_address(host))
    throw std::invalid_argument(fmt::format(
        "{} '{}': only loopback addresses (127.0.0.0/8, ::1) are allowed in the sealed world", what,
        text));
  return {host, static_cast<std::uint16_t>(port)};
}

constexpr int kMaxThreads = 256;

struct ReceiveOptions {
  std::string persona = "gmail";
  std::string listen = "127.0.0.1:2525";
  std::string dns;
  std::string host;
  std::string client_ip;
  std::vector<std::string> dnsbl = {"zen.spamhaus.org"};
  bool bulk = false;
  bool no_tls = false;
  bool verbose = false;
  std::int64_t now = 0;
  int threads = 1;
  int dns_cache = 60;  // seconds an answer is kept at most; 0 = none
  std::string ca_out;  // where to write the test CA's certificate ("" = nowhere)
};

int run_receive(const ReceiveOptions& o) {
  HostPort listen = parse_host_port(o.listen, "--listen", 0);  // 0: any free port
  HostPort dns_at = parse_host_port(o.dns, "--dns", 1);
  auto wire = dns::make_wire_resolver(dns_at.host, dns_at.port);
  // As a provider's MX asks its caching resolver, not the authoritative server, for every
  // message (and a load test would otherwise measure the DNS round trips). --dns-cache 0 is
  // max_ttl 0: the cache then passes every lookup through.
  dns::CacheOptions cache_options;
  cache_options.max_ttl = std::chrono::seconds(o.dns_cache);
  dns::CachingResolver resolver(*wire, cache_options);

  mta::MtaConfig config;
  config.persona = o.persona;
  config.host = o.host;
  config.listen_address = listen.host;
  config.port = listen.port;
  config.dnsbl_zones = o.dnsbl;
  config.bulk = o.bulk;
  config.threads = o.threads;
  config.keep_deliveries = false;  // each is printed as it comes; memory stays flat
  if (o.now > 0) config.now = o.now;
  if (!o.client_ip.empty()) {
    std::string ip = o.client_ip;
    config.client_address = [ip](const boost::asio::ip::tcp::endpoint&) { return ip; };
  }
  smtp::TestCa ca;
  const auto& persona = personas::persona(o.persona);
  if (!o.no_tls) config.tls = ca.server_context(o.host.empty() ? persona.default_host : o.host);
  if (!o.ca_out.empty()) {
    // So a client can verify the chain (swaks --tls-verify --tls-ca-path FILE): the CA is
    // seeded, so the same file serves every run.
    std::ofstream file(o.ca_out, std::ios::binary | std::ios::trunc);
    file << ca.ca_cert_pem();
    file.close();
    if (!file)
      throw std::invalid_argument(fmt::format("--ca-out '{}': cannot write it", o.ca_out));
  }

  // SIGINT/SIGTERM are blocked here (and so in the server threads, which inherit the mask)
  // and taken synchronously below with sigwait: no async-signal-safety concerns.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  mta::ReceivingMta mta(config, resolver);
  std::mutex out;
  mta.on_delivery([&](const mta::Delivery& d) {
    std::lock_guard lock(out);
    fmt::print("{}\n", mta::delivery_line(d));
    if (o.verbose) {
      for (const auto& h : d.rules)
        fmt::print("    {:+.3f} {} — {} ({})\n", h.points, h.id, h.description, h.source);
      for (const auto& l : d.transcript) fmt::print("    {}: {}\n", smtp::to_string(l.who), l.text);
    }
    std::fflush(stdout);
  });
  try {
    mta.start();
  } catch (const std::system_error& e) {
    // A port someone holds (or an alias not configured): name the flag, exit 2.
    throw std::invalid_argument(
        fmt::format("--listen '{}': cannot listen there: {}", o.listen, e.what()));
  }
  fmt::print(stderr,
             "mailsim receive: persona {} ({}) on {}:{}, DNS {}:{} ({}), STARTTLS {}, {} "
             "thread(s); Ctrl-C stops\n",
             persona.name, mta.host(), listen.host, mta.port(), dns_at.host, dns_at.port,
             o.dns_cache > 0 ? fmt::format("answers kept up to {} s", o.dns_cache)
                             : std::string("no cache"),
             o.no_tls ? "off" : "on (mailsim test CA)", o.threads);
  fmt::print(stderr, "score: {}\n", persona.score_formula);
  int sig = 0;
  sigwait(&signals, &sig);
  mta.stop();
  fmt::print(stderr, "mailsim receive: stopped ({} deliveries)\n", mta.delivery_count());
  return kExitOk;
}

}  // namespace

void register_receive_commands(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ReceiveOptions>();
  auto* cmd = app.add_subcommand(
      "receive", "Run one provider persona's receiving MTA on loopback (point swaks at it)");
  std::string personas_list;
  for (const auto& p : personas::all_personas())
    personas_list += (personas_list.empty() ? "" : ", ") + p.name;
  cmd->add_option("--persona", o->persona, "Rulebook: " + personas_list)->capture_default_str();
  cmd->add_option("--listen", o->listen, "Loopback ADDRESS:PORT to listen on")
      ->capture_default_str();
  cmd->add_option("--dns", o->dns, "The fake DNS server, loopback ADDRESS:PORT")->required();
  cmd->add_option("--host", o->host, "Greeting host / authserv-id (default: the persona's)");
  cmd->add_option("--client-ip", o->client_ip,
                  "Treat every client as this (virtual) address, e.g. 12.34.56.78 (else the "
                  "persona sees 127.0.0.1, which has no PTR in the world)");
  cmd->add_option("--dnsbl", o->dnsbl, "DNSBL zones to query at connect")->capture_default_str();
  cmd->add_flag("--bulk", o->bulk,
                "Treat every message as bulk (else Precedence: bulk/list or "
                "X-Mailsim-Bulk: yes marks it)");
  cmd->add_flag("--no-tls", o->no_tls, "Do not offer STARTTLS");
  cmd->add_option("--now", o->now, "Fixed clock, seconds since the epoch (DKIM x= checks)");
  cmd->add_option("--threads", o->threads,
                  "Threads (1-256) that serve sessions and run the checks (MtaConfig::threads)")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            int n = 0;
            try {
              std::size_t used = 0;
              n = std::stoi(value, &used);
              if (used != value.size()) n = 0;
            } catch (const std::exception&) {
              n = 0;
            }
            // The cap only keeps a typo (10000) from exhausting the process's threads.
            return n >= 1 && n <= kMaxThreads
                       ? ""
                       : fmt::format("'{}': need a whole number of threads from 1 to {}", value,
                                     kMaxThreads);
          },
          "N"));
  cmd->add_option("--dns-cache", o->dns_cache,
                  "Keep DNS answers up to SECONDS (their TTL, or the SOA's negative TTL, if "
                  "shorter; failures never), as a provider's resolver does; 0 asks the DNS "
                  "server at every lookup")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  cmd->add_option("--ca-out", o->ca_out,
                  "Write the STARTTLS certificate's CA (PEM) to FILE, so clients can verify it "
                  "(the CA is seeded: the same every run)");
  cmd->add_flag("-v,--verbose", o->verbose, "Print every rule and the transcript");
  cmd->callback([o, &exit_code] { exit_code = run_receive(*o); });
}

}  // namespace mailsim::cli
