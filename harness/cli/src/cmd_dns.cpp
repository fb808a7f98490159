// `mailsim dns …`: the fake DNS server on its own, to poke at a world with dig or to point
// a real MTA at it.
#include <csignal>
#include <memory>
#include <string>

#include <fmt/core.h>

#include "commands.hpp"
#include "mailsim/dns/server.hpp"
#include "mailsim/dns/zone_io.hpp"
#include "mailsim/world/baseline.hpp"

namespace mailsim::cli {

namespace {

struct ServeOptions {
  std::string scenario;
  std::vector<std::string> zones;
  std::string listen = "127.0.0.1:5300";
  bool log_queries = false;
};

// "127.0.0.1:5300", "[::1]:5300" → address, port.
std::pair<std::string, std::uint16_t> split_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size())
    throw CLI::ValidationError("--listen", "expected ADDRESS:PORT, e.g. 127.0.0.1:5300");
  std::string address = listen.substr(0, colon);
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']')
    address = address.substr(1, address.size() - 2);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535)
    throw CLI::ValidationError("--listen", fmt::format("bad port in '{}'", listen));
  if (!dns::is_loopback_address(address))
    throw CLI::ValidationError(
        "--listen", fmt::format("'{}' is not a loopback address: the fake DNS serves the "
                                "sealed world on 127.0.0.0/8 or ::1 only",
                                address));
  return {address, static_cast<std::uint16_t>(port)};
}

int serve(const ServeOptions& options) {
  world::World world;
  if (options.scenario.empty() && options.zones.empty())
    throw CLI::ValidationError("dns serve", "give --scenario guide-baseline or --zone FILE");
  if (!options.scenario.empty()) {
    if (options.scenario != "guide-baseline")
      throw CLI::ValidationError(
          "--scenario", fmt::format("unknown scenario '{}' (known: guide-baseline)",
                                    options.scenario));
    world = world::guide_baseline();
  }
  for (const auto& zone : options.zones) dns::load_zone_file(world, zone);

  auto [address, port] = split_listen(options.listen);
  dns::ServerOptions server_options;
  server_options.address = address;
  server_options.port = port;
  dns::FakeDnsServer server(std::move(world), server_options);
  if (options.log_queries) {
    server.set_query_log([](const dns::QueryLogEntry& e) {
      auto type = world::to_string(static_cast<world::RrType>(e.type));
      fmt::print("{} {} {} → {}{}\n", e.transport == dns::Transport::udp ? "udp" : "tcp",
                 e.name.empty() ? "?" : e.name,
                 type == "TYPE?" ? fmt::format("TYPE{}", e.type) : std::string(type),
                 e.answered ? std::string(dns::to_string(e.rcode)) : "(dropped)",
                 e.truncated ? " TC" : "");
      std::fflush(stdout);
    });
  }

  // Block the stop signals before the server thread exists, so only sigwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  server.start();
  std::size_t zones = 0;
  server.read([&](const world::World& w) { zones = w.zones().size(); });
  fmt::print("mailsim fake DNS listening on {}:{} (UDP+TCP), authoritative for {} zone(s); "
             "Ctrl-C to stop\n",
             address.find(':') != std::string::npos ? "[" + address + "]" : address,
             server.port(), zones);
  std::fflush(stdout);
  int received = 0;
  sigwait(&signals, &received);
  server.stop();
  auto stats = server.stats();
  fmt::print("stopped ({}): {} queries served ({} UDP, {} TCP, {} truncated, {} dropped)\n",
             received == SIGINT ? "SIGINT" : "SIGTERM", stats.queries, stats.udp_queries,
             stats.tcp_queries, stats.truncated, stats.dropped);
  return kExitOk;
}

}  // namespace

void register_dns_commands(CLI::App& app, int& exit_code) {
  auto* dns = app.add_subcommand("dns", "The world's fake DNS server");
  dns->require_subcommand(1);

  auto options = std::make_shared<ServeOptions>();
  auto* serve_cmd = dns->add_subcommand(
      "serve", "Serve a world's zones over UDP and TCP on a loopback address until SIGINT");
  serve_cmd->add_option("--scenario", options->scenario, "Built-in world: guide-baseline");
  serve_cmd->add_option("--zone", options->zones, "BIND zone file to serve (repeatable)")
      ->check(CLI::ExistingFile);
  serve_cmd->add_option("--listen", options->listen, "ADDRESS:PORT on loopback")
      ->capture_default_str();
  serve_cmd->add_flag("--log-queries", options->log_queries, "Print every query and its RCODE");
  serve_cmd->callback([options, &exit_code] { exit_code = serve(*options); });
}

}  // namespace mailsim::cli
