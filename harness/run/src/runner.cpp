// The Runner: DESIGN.md "The flow of one run", steps 1–6.
#include "mailsim/run/runner.hpp"

#include <algorithm>
#include <chrono>
#include <charconv>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <unistd.h>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <fmt/core.h>

#include "mailsim/dns/resolver.hpp"
#include "mailsim/dns/server.hpp"
#include "mailsim/mta/receiving_mta.hpp"
#include "mailsim/net/block_lease.hpp"
#include "mailsim/net/loopback_fabric.hpp"
#include "mailsim/net/netns_fabric.hpp"
#include "mailsim/run/scenario.hpp"
#include "mailsim/smtp/client.hpp"
#include "mailsim/smtp/test_ca.hpp"
#include "mailsim/sut/attempt.hpp"
#include "mailsim/world/baseline.hpp"
#include "mailsim/world/breakage.hpp"

namespace mailsim::run {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The run's 127.N block: 1..250 (net::FabricOptions), wrapping so any run index works.
unsigned block_for(unsigned run_index, std::size_t position) {
  return 1 + static_cast<unsigned>((run_index + position) % 250);
}

const world::Host* host_with_role(const world::World& w, world::HostRole role,
                                  std::string_view persona = {}) {
  for (const auto& h : w.hosts())
    if (h.role == role && (persona.empty() || h.persona == persona)) return &h;
  return nullptr;
}

std::string persona_domain(std::string_view persona) {
  for (const auto& p : world::persona_domains())
    if (p.persona == persona) return p.domain;
  return {};
}

sut::Route to_route(const net::Dial& dial) {
  sut::Route r;
  r.ok = dial.ok();
  switch (dial.error) {
    case net::DialError::none:
      r.wire_address = dial.remote_wire;
      r.wire_port = dial.remote_port;
      r.local_address = dial.local_wire;
      break;
    case net::DialError::egress_blocked:
      // A provider that drops port 25 sends no RST: a real client waits and times out.
      r.error = "connection timed out (" + dial.message + ")";
      break;
    case net::DialError::refused:
      r.error = dial.message;
      break;
    case net::DialError::no_route:
      r.error = "no route to host (" + dial.message + ")";
      break;
  }
  return r;
}

// The probe message, shaped by the scenario (MessageShape).
std::string probe_message(const MessageShape& shape, const std::string& from,
                          const std::string& to, const std::string& subject,
                          const std::string& message_id, std::int64_t now) {
  auto missing = [&](std::string_view header) {
    return std::find(shape.missing_headers.begin(), shape.missing_headers.end(), header) !=
           shape.missing_headers.end();
  };
  std::string body = shape.body;
  if (body.empty())
    body = shape.html_only
               ? "<html><body><p>Hello from mailsim.</p><p>This probe checks where mail lands "
                 "and why.</p></body></html>\r\n"
               : "Hello from mailsim.\r\n\r\nThis probe checks where mail lands and why.\r\n";
  while (shape.size > body.size()) {
    std::string line = "mailsim filler line to reach the requested message size.\r\n";
    body += line.substr(0, std::min(line.size(), shape.size - body.size()));
  }
  std::string m;
  if (!missing("from")) m += "From: Postmaster <" + from + ">\r\n";
  if (!missing("to")) m += "To: <" + to + ">\r\n";
  if (!missing("subject")) m += "Subject: " + subject + "\r\n";
  if (!missing("date")) m += "Date: " + sut::rfc5322_date(now) + "\r\n";
  if (!missing("message-id")) m += "Message-ID: <" + message_id + ">\r\n";
  if (!missing("mime-version")) m += "MIME-Version: 1.0\r\n";
  m += shape.html_only ? "Content-Type: text/html; charset=utf-8\r\n"
                       : "Content-Type: text/plain; charset=utf-8\r\n";
  if (shape.bulk) m += "Precedence: bulk\r\n";
  m += "\r\n" + body;
  return m;
}

// Real MTAs run as programs that need the world's own addresses: only the netns fabric
// gives them those (docs/real-mtas.md).
bool is_real_mta(std::string_view sut) { return sut == "postfix" || sut == "haraka"; }

// How a TCP connection from a world host goes: the loopback fabric's or the netns fabric's
// dial (the latter identity addresses, predicted from the same policy nftables enforces).
using DialFn = std::function<net::Dial(std::string_view, std::string_view, std::uint16_t)>;

// Everything one run starts, torn down in reverse order by the destructor — on success,
// on an exception and on cancellation alike.
struct Stage {
  std::shared_ptr<world::World> world;
  std::unique_ptr<net::LoopbackFabric> fabric;
  // netns fabric: destroyed after every actor below has stopped (members go in reverse),
  // and its teardown kills whatever is still running in the namespaces.
  std::unique_ptr<net::NetnsFabric> netns;
  std::unique_ptr<dns::FakeDnsServer> dns;
  std::unique_ptr<smtp::TestCa> ca;
  std::vector<std::unique_ptr<dns::Resolver>> resolvers;  // one per actor, all wire
  std::map<std::string, std::vector<std::unique_ptr<mta::ReceivingMta>>> receivers;
  std::unique_ptr<sut::SimClock> clock;
  std::unique_ptr<sut::Sut> sut;

  ~Stage() {
    if (sut) sut->stop();
    for (auto& [persona, list] : receivers)
      for (auto& r : list) r->stop();
    if (dns) dns->stop();
  }
};

// One inbound probe: a persona's remote sender host delivers to the SUT's domain the way
// a real provider's MTA would, through the world's DNS and the fabric.
sut::DeliveryAttempt deliver_inbound(const world::Host& sender, const std::string& domain,
                                     const ProbeResult& probe, const MessageShape& shape,
                                     const DialFn& dial_fn, bool sealed_namespace,
                                     dns::Resolver& resolver, std::int64_t now,
                                     std::uint64_t probe_no, std::uint64_t seed,
                                     std::uint32_t io_timeout_ms) {
  sut::DeliveryAttempt a;
  a.recipient_domain = domain;
  a.recipients = {probe.to};
  a.at = now;
  // MX → A, no MX → the domain's own A (RFC 5321 §5.1), as every sending MTA does.
  std::vector<std::pair<std::string, std::string>> targets;  // (mx host, address)
  dns::Answer mx = resolver.query(domain, dns::RrType::MX);
  std::vector<std::string> exchanges;
  if (mx.ok()) {
    auto recs = mx.of_type(dns::RrType::MX);
    std::stable_sort(recs.begin(), recs.end(), [](const auto& x, const auto& y) {
      return x.preference != y.preference ? x.preference < y.preference : x.value < y.value;
    });
    for (const auto& r : recs) exchanges.push_back(r.value);
  } else if (mx.status == dns::DnsStatus::nodata) {
    exchanges.push_back(domain);
  } else {
    a.outcome = mx.status == dns::DnsStatus::nxdomain ? sut::AttemptOutcome::bounced
                                                       : sut::AttemptOutcome::unreachable;
    a.detail = fmt::format("MX {}: {}", domain, mx.summary());
    return a;
  }
  for (const auto& x : exchanges) {
    dns::Answer addr = resolver.query(x, dns::RrType::A);
    for (const auto& r : addr.of_type(dns::RrType::A)) targets.emplace_back(x, r.value);
  }
  if (targets.empty()) {
    a.outcome = sut::AttemptOutcome::unreachable;
    a.detail = fmt::format("no address for any MX of {}", domain);
    return a;
  }
  for (const auto& [mx_host, address] : targets) {
    a.mx_host = mx_host;
    a.address = address;
    net::Dial dial = dial_fn(sender.addresses.front(), address, 25);
    if (!dial.ok()) {
      a.connect_error = to_route(dial).error;
      continue;
    }
    smtp::ClientOptions opts;
    opts.host = dial.remote_wire;
    opts.port = dial.remote_port;
    opts.bind_address = dial.local_wire;
    opts.in_sealed_namespace = sealed_namespace;
    opts.helo_name = sender.name;
    opts.tls = sender.starttls ? smtp::TlsMode::opportunistic : smtp::TlsMode::never;
    opts.connect_timeout = std::chrono::milliseconds(io_timeout_ms);
    opts.command_timeout = std::chrono::milliseconds(io_timeout_ms);
    opts.data_timeout = std::chrono::milliseconds(io_timeout_ms);
    smtp::OutgoingMessage msg;
    msg.mail_from = probe.from;
    msg.rcpt_to = {probe.to};
    msg.data = probe_message(shape, probe.from, probe.to, "mailsim probe " + probe.name,
                             fmt::format("probe-{}.{}@{}", probe_no, seed, sender.name), now);
    smtp::ClientResult r = smtp::send_mail(opts, msg);
    sut::record_client_result(r, mx_host, a);
    if (!a.connected) continue;
    return a;
  }
  a.outcome = sut::AttemptOutcome::unreachable;
  a.detail = fmt::format("could not connect to any MX of {}: {}", domain, a.connect_error);
  return a;
}

}  // namespace

const std::vector<std::string>& fabric_kinds() {
  static const std::vector<std::string> kinds = {"loopback", "netns"};
  return kinds;
}

std::string fabric_problem(std::string_view fabric, std::string_view sut) {
  if (fabric != "loopback" && fabric != "netns")
    return fmt::format("unknown fabric '{}' (known: loopback, netns)", fabric);
  if (fabric == "loopback" && is_real_mta(sut))
    return fmt::format(
        "--sut {} runs a real MTA, which needs the world's own addresses: add --fabric netns "
        "(a network namespace per world host; needs root, ip and nft — docs/netns.md)",
        sut);
  if (fabric == "netns" && !is_real_mta(sut))
    return fmt::format(
        "--sut {} does not run on --fabric netns: only the real MTAs (postfix, haraka) do; "
        "use the default loopback fabric for it",
        sut);
  if (fabric == "netns") return net::netns_unavailable_reason();
  return {};
}

std::string_view to_string(Direction direction) {
  return direction == Direction::outbound ? "outbound" : "inbound";
}

Shard parse_shard(std::string_view text) {
  auto slash = text.find('/');
  auto number = [&](std::string_view part, const char* what) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size())
      throw std::invalid_argument(fmt::format(
          "--shard '{}': {} must be a non-negative integer (expected K/N, e.g. 0/4)", text,
          what));
    return value;
  };
  if (slash == std::string_view::npos)
    throw std::invalid_argument(
        fmt::format("--shard '{}': expected K/N (0-based shard K of N, e.g. 0/4)", text));
  Shard s{number(text.substr(0, slash), "K"), number(text.substr(slash + 1), "N")};
  if (s.count == 0) throw std::invalid_argument(fmt::format("--shard '{}': N must be ≥ 1", text));
  if (s.index >= s.count)
    throw std::invalid_argument(
        fmt::format("--shard '{}': K must be below N (K is 0-based: 0..{})", text, s.count - 1));
  return s;
}

std::vector<std::string> shard_names(std::vector<std::string> names, const Shard& shard) {
  if (shard.count == 0 || shard.index >= shard.count)
    throw std::invalid_argument("shard index must be below shard count");
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (i % shard.count == shard.index) out.push_back(names[i]);
  return out;
}

Runner::Runner(RunOptions options) : options_(std::move(options)) {
  const auto known = all_personas();
  for (const auto& p : options_.personas)
    if (std::find(known.begin(), known.end(), p) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw std::invalid_argument(fmt::format("unknown persona '{}' (known: {})", p, list));
    }
  const auto& kinds = sut::sut_kinds();
  if (std::find(kinds.begin(), kinds.end(), options_.sut) == kinds.end()) {
    std::string list;
    for (const auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
    throw std::invalid_argument(
        fmt::format("unknown setup under test '{}' (known: {})", options_.sut, list));
  }
  if (options_.shard.count == 0 || options_.shard.index >= options_.shard.count)
    throw std::invalid_argument("shard index must be below shard count");
  // The pairing only; whether netns works here is found when a run builds its fabric.
  if (options_.fabric != "loopback" && options_.fabric != "netns")
    throw std::invalid_argument(fabric_problem(options_.fabric, options_.sut));
  if ((options_.fabric == "netns") != is_real_mta(options_.sut))
    throw std::invalid_argument(fabric_problem(options_.fabric, options_.sut));
}

Runner::~Runner() = default;

bool Runner::stop_requested() const noexcept {
  return stop_.load() || (options_.cancel && options_.cancel->load());
}

RunResult Runner::run(const Scenario& scenario) {
  return run_in_block(scenario, block_for(options_.run_index, 0));
}

std::vector<RunResult> Runner::run_all(const std::vector<Scenario>& scenarios) {
  std::vector<const Scenario*> sorted;
  for (const auto& s : scenarios) sorted.push_back(&s);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Scenario* a, const Scenario* b) { return a->name < b->name; });
  std::vector<const Scenario*> mine;
  for (std::size_t i = 0; i < sorted.size(); ++i)
    if (i % options_.shard.count == options_.shard.index) mine.push_back(sorted[i]);

  std::vector<RunResult> results(mine.size());
  unsigned jobs = options_.jobs ? options_.jobs : std::max(1u, std::thread::hardware_concurrency());
  jobs = std::min<unsigned>(jobs, static_cast<unsigned>(std::max<std::size_t>(1, mine.size())));
  jobs = std::min(jobs, 250u);  // one 127.N block each
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (;;) {
      std::size_t i = next++;
      if (i >= mine.size()) return;
      if (stop_requested()) {
        results[i].scenario = mine[i]->name;
        results[i].cancelled = true;
        results[i].error = "cancelled before it started";
        continue;
      }
      results[i] = run_in_block(*mine[i], block_for(options_.run_index, i));
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < jobs; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  return results;  // already in name order
}

RunResult Runner::run_in_block(const Scenario& scenario, unsigned preferred_block) {
  RunResult result;
  // The block is a preference: another process (a second mailsim, a parallel test suite)
  // may hold it, and the lease moves this run to the next free one.
  std::optional<net::BlockLease> lease;
  try {
    lease.emplace(net::BlockLease::acquire(preferred_block));
  } catch (const std::exception& e) {
    result.scenario = scenario.name;
    result.error = e.what();
    return result;
  }
  const unsigned block = lease->block();
  result.scenario = scenario.name;
  result.seed = scenario.seed.value_or(options_.seed);
  result.block = block;
  const auto started = Clock::now();
  const auto io_timeout = std::chrono::milliseconds(options_.io_timeout_ms);
  auto note = [&](std::string line) { result.runner_logs.push_back(std::move(line)); };
  auto cancelled = [&] {
    if (!stop_requested()) return false;
    result.cancelled = true;
    return true;
  };
  auto wanted = [&](const std::string& persona) {
    return options_.personas.empty() ||
           std::find(options_.personas.begin(), options_.personas.end(), persona) !=
               options_.personas.end();
  };

  Stage stage;
  try {
    // 1. The world on the loopback fabric, in this run's own 127.N/16 block — or on the
    //    netns fabric, a namespace per host carrying the real virtual addresses.
    stage.world = std::make_shared<world::World>(scenario.world);
    const world::World& w = *stage.world;
    const bool on_netns = options_.fabric == "netns";
    net::LoopbackFabric* loop = nullptr;
    net::NetnsFabric* netns = nullptr;
    if (on_netns) {
      // Names carry our pid ("mailsim-p<pid>-<N>-h<i>"): two mailsim processes (two ctests)
      // never share namespaces, nor clear each other's as "leftovers".
      stage.netns = std::make_unique<net::NetnsFabric>(
          w, net::NetnsOptions{block, fmt::format("mailsim-p{}", ::getpid())});
      netns = stage.netns.get();
      note(fmt::format("fabric: netns, {} hosts in namespaces {}*", w.hosts().size(),
                       netns->prefix()));
    } else {
      stage.fabric = std::make_unique<net::LoopbackFabric>(w, net::FabricOptions{block, 20000});
      loop = stage.fabric.get();
      note(fmt::format("fabric: {} hosts in {}", w.hosts().size(), loop->block()));
    }
    auto virtual_of = [loop](const boost::asio::ip::tcp::endpoint& peer) {
      std::string wire = peer.address().to_string();
      return loop ? loop->virtual_for(wire).value_or(wire) : wire;  // netns: identity
    };
    const DialFn dial_fn = [loop, netns](std::string_view from, std::string_view to,
                                         std::uint16_t port) {
      return loop ? loop->dial(from, to, port) : netns->dial(from, to, port);
    };
    // Where a host (name or address) listens: its wire alias on loopback, its own (first
    // or given) virtual address on netns.
    auto listen_on = [&](std::string_view host, std::uint16_t port) -> boost::asio::ip::tcp::endpoint {
      if (loop) return loop->listen_endpoint(host, port);
      for (const auto& h : w.hosts())
        for (const auto& a : h.addresses)
          if (a == host) return {boost::asio::ip::make_address(a), port};
      const world::Host* h = w.host(host);
      if (!h || h->addresses.empty())
        throw std::runtime_error(fmt::format("no host '{}' with an address in the world", host));
      return {boost::asio::ip::make_address(h->addresses.front()), port};
    };
    // Starts an actor: on netns on a thread inside the host's namespace, so its sockets
    // (and the threads it starts) live there (NetnsFabric::run_in).
    auto start_in = [&](const std::string& host, auto&& start) {
      if (netns)
        netns->run_in(host, start);
      else
        start();
    };

    // 2. The fake DNS: the only resolver anyone in the world can reach.
    const world::Host* dns_host = w.host(world::kFakeDnsHost);
    if (!dns_host) dns_host = host_with_role(w, world::HostRole::dns);
    if (!dns_host || dns_host->addresses.empty())
      throw std::runtime_error("the world has no DNS host (role dns) to serve its zones from");
    auto dns_endpoint = listen_on(dns_host->name, 53);
    dns::ServerOptions dns_options;
    dns_options.address = dns_endpoint.address().to_string();
    dns_options.port = dns_endpoint.port();
    dns_options.in_sealed_namespace = on_netns;
    stage.dns = std::make_unique<dns::FakeDnsServer>(stage.world, dns_options);
    start_in(dns_host->name, [&] { stage.dns->start(); });
    note(fmt::format("dns: {} serving {} zones on {}:{}", dns_host->name, w.zones().size(),
                     dns_options.address, stage.dns->port()));
    auto wire_resolver = [&]() -> dns::Resolver& {
      // On netns the fake DNS is reachable only from inside the world's namespaces: these
      // resolvers are used by actors running there (receivers, the inbound sender).
      stage.resolvers.push_back(
          on_netns ? dns::make_namespace_wire_resolver(dns_options.address, stage.dns->port(),
                                                       io_timeout)
                   : dns::make_wire_resolver(dns_options.address, stage.dns->port(), io_timeout));
      return *stage.resolvers.back();
    };

    // A real MTA stamps DKIM t= and Date: with the machine's clock, so on netns the
    // receivers' clock starts at real time too (else every signature is "in the future",
    // RFC 6376 §3.5) — the price is that such runs are not byte-for-byte reproducible.
    stage.clock = on_netns ? std::make_unique<sut::SimClock>(
                                 std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count())
                           : std::make_unique<sut::SimClock>();
    stage.ca = std::make_unique<smtp::TestCa>(fmt::format("mailsim-{}", result.seed));

    // 3. One ReceivingMta per persona host.
    for (const auto& h : w.hosts()) {
      if (h.role != world::HostRole::receiver || !wanted(h.persona)) continue;
      if (!h.open_ports.count(25)) continue;
      // One listener per address of the host: a dual-stack MX (gmail, outlook) is reached
      // on its IPv6 alias by a SUT that prefers AAAA.
      for (const auto& address : h.addresses) {
        auto ep = listen_on(address, 25);
        mta::MtaConfig config;
        config.persona = h.persona;
        config.host = h.name;
        config.listen_address = ep.address().to_string();
        config.port = ep.port();
        if (h.starttls) config.tls = stage.ca->server_context(h.name);
        config.clock = [clock = stage.clock.get()] { return clock->now(); };
        config.bulk = scenario.probes.message.bulk;
        config.client_address = virtual_of;
        config.command_timeout = io_timeout;
        config.in_sealed_namespace = on_netns;
        auto mta = std::make_unique<mta::ReceivingMta>(config, wire_resolver());
        start_in(h.name, [&] { mta->start(); });
        stage.receivers[h.persona].push_back(std::move(mta));
      }
    }
    note(fmt::format("receivers: {} persona(s) listening", stage.receivers.size()));
    if (cancelled()) return result;

    // 4. The setup under test: start and provision (guide §4–§6).
    const world::Host* sut_host = host_with_role(w, world::HostRole::sut);
    if (!sut_host) throw std::runtime_error("the world has no setup-under-test host (role sut)");
    const std::string domain = scenario.baseline.domain;
    const std::string postmaster = "postmaster@" + domain;
    stage.sut = sut::make_sut(options_.sut, options_.sut_options);
    sut::SutContext ctx;
    ctx.world = stage.world.get();
    ctx.resolver = &wire_resolver();
    ctx.dns_server = {dns_options.address, stage.dns->port()};
    ctx.host_name = sut_host->name;
    ctx.dial = [dial_fn](std::string_view from, std::string_view to, std::uint16_t port) {
      return to_route(dial_fn(from, to, port));
    };
    ctx.listen = [listen_on](std::string_view host, std::uint16_t port) {
      auto ep = listen_on(host, port);
      return sut::Endpoint{ep.address().to_string(), ep.port()};
    };
    ctx.virtual_for = [loop](std::string_view wire) {
      return loop ? loop->virtual_for(wire).value_or(std::string{}) : std::string(wire);
    };
    if (netns) {
      // The real MTA runs in its host's namespace and resolves through resolv.conf, which
      // names only the fake DNS (the seal, docs/netns.md).
      ctx.netns = netns->ns_for(sut_host->name);
      netns->write_resolv_conf(sut_host->name, dns_options.address);
    }
    // tls.off (Host::starttls false): no certificate, so the SUT neither offers STARTTLS
    // inbound nor uses it outbound — the guide's certificate step never happened.
    ctx.starttls = sut_host->starttls;
    if (ctx.starttls) {
      auto sut_cert = stage.ca->issue(sut_host->name);
      ctx.tls = {stage.ca->ca_cert_pem(), sut_cert.chain_pem, sut_cert.key_pem};
    }
    ctx.clock = stage.clock.get();
    ctx.seed = result.seed;
    ctx.io_timeout_ms = options_.io_timeout_ms;
    stage.sut->start(ctx);
    auto provisioned = stage.sut->provision({domain, {postmaster}, "", 2048});
    result.dkim = provisioned.dkim;

    // The published DKIM record goes into the zone; the publish-stage breakages act on it
    // (dkim.truncate, dkim.unpublished: the guide's step 6 done wrong).
    stage.dns->update([&](world::World& live) {
      for (const auto& pub : provisioned.dkim) live.replace(world::make_txt(pub.record_name, pub.txt));
      world::apply_breakages(live, scenario.breakages, world::BreakageStage::publish);
      result.zone_text = live.to_zone_text();
    });
    for (const auto& pub : provisioned.dkim)
      note(fmt::format("published DKIM {} ({} bits)", pub.record_name, pub.bits));

    // 5. Outbound probes: the SUT sends one message to each persona.
    std::uint64_t probe_no = 0;
    for (const auto& persona : scenario.probes.outbound) {
      if (!wanted(persona)) continue;
      if (cancelled()) return result;
      ProbeResult probe;
      probe.name = "outbound/" + persona;
      probe.direction = Direction::outbound;
      probe.persona = persona;
      probe.from = postmaster;
      probe.to = "probe@" + persona_domain(persona);
      const auto t0 = Clock::now();
      try {
        auto& list = stage.receivers[persona];
        std::vector<std::size_t> before;
        for (auto& r : list) before.push_back(r->deliveries().size());
        sut::Submission sub;
        sub.envelope.mail_from = probe.from;
        sub.envelope.rcpt_to = {probe.to};
        sub.data = probe_message(scenario.probes.message, probe.from, probe.to,
                                 "mailsim probe " + probe.name,
                                 fmt::format("probe-{}.{}@{}", ++probe_no, result.seed, domain),
                                 stage.clock->now());
        std::string id = stage.sut->submit(sub);
        // request_stop() interrupts the queue; options.cancel is checked between probes.
        if (options_.cancel && options_.cancel->load()) stop_.store(true);
        stage.sut->run_queue(&stop_);
        auto status = stage.sut->status(id);
        probe.state = status.state;
        probe.attempts = status.attempts;
        std::size_t connected = 0;
        for (const auto& a : status.attempts) connected += a.connected ? 1 : 0;
        // Receivers record a Delivery when the session ends (after our QUIT): wait until
        // the persona's listeners together hold one per connection the SUT made, bounded
        // in real time.
        auto new_deliveries = [&] {
          std::size_t n = 0;
          for (std::size_t i = 0; i < list.size(); ++i) n += list[i]->deliveries().size() - before[i];
          return n;
        };
        const auto deadline = Clock::now() + io_timeout;
        while (new_deliveries() < connected && Clock::now() < deadline)
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        for (std::size_t i = 0; i < list.size(); ++i) {
          auto all = list[i]->deliveries();
          for (std::size_t k = before[i]; k < all.size(); ++k)
            probe.deliveries.push_back(std::move(all[k]));
        }
        std::stable_sort(probe.deliveries.begin(), probe.deliveries.end(),
                         [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
      } catch (const std::exception& e) {
        probe.error = e.what();
      }
      probe.elapsed_ms = ms_since(t0);
      result.probes.push_back(std::move(probe));
    }

    // Inbound probes: each persona's remote sender delivers to the SUT's domain via its MX.
    for (const auto& persona : scenario.probes.inbound) {
      if (!wanted(persona)) continue;
      if (cancelled()) return result;
      ProbeResult probe;
      probe.name = "inbound/" + persona;
      probe.direction = Direction::inbound;
      probe.persona = persona;
      probe.from = "sender@" + persona_domain(persona);
      probe.to = postmaster;
      const auto t0 = Clock::now();
      try {
        const world::Host* sender = host_with_role(w, world::HostRole::sender, persona);
        if (!sender || sender->addresses.empty())
          throw std::runtime_error(fmt::format("the world has no sender host for {}", persona));
        std::size_t stored_before = stage.sut->mailbox(postmaster).size();
        dns::Resolver& sender_resolver = wire_resolver();
        const std::uint64_t no = ++probe_no;
        auto deliver = [&] {
          return deliver_inbound(*sender, domain, probe, scenario.probes.message, dial_fn,
                                 on_netns, sender_resolver, stage.clock->now(), no, result.seed,
                                 options_.io_timeout_ms);
        };
        // On netns the remote sender speaks from inside its own host's namespace: the
        // world's addresses exist only there.
        sut::DeliveryAttempt a = netns ? netns->run_in(sender->name, deliver) : deliver();
        if (netns && a.outcome == sut::AttemptOutcome::delivered) {
          // A real MTA files the message after its 250 (Postfix: queue → virtual(8)); wait
          // for it, bounded.
          const auto deadline = Clock::now() + io_timeout;
          while (stage.sut->mailbox(postmaster).size() <= stored_before && Clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        probe.state = a.outcome == sut::AttemptOutcome::delivered
                          ? sut::SubmissionState::delivered
                      : a.outcome == sut::AttemptOutcome::bounced ? sut::SubmissionState::bounced
                      : a.outcome == sut::AttemptOutcome::deferred
                          ? sut::SubmissionState::deferred
                          : sut::SubmissionState::failed;
        probe.attempts.push_back(std::move(a));
        auto box = stage.sut->mailbox(postmaster);
        for (std::size_t k = stored_before; k < box.size(); ++k) probe.stored.push_back(box[k]);
      } catch (const std::exception& e) {
        probe.error = e.what();
      }
      probe.elapsed_ms = ms_since(t0);
      result.probes.push_back(std::move(probe));
    }
    result.sut_logs = stage.sut->logs();
  } catch (const std::exception& e) {
    result.error = e.what();
    if (stage.sut) result.sut_logs = stage.sut->logs();
  }
  result.elapsed_ms = ms_since(started);
  return result;
}

}  // namespace mailsim::run
