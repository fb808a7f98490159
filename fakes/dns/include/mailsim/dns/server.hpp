// FakeDnsServer: the only DNS anyone in a sealed world can reach. Authoritative for every
// zone of a World, over UDP and TCP (RFC 7766, 2-octet length prefix), on one loopback
// address:port. It never recurses and never forwards: a name outside the world gets
// REFUSED (see handle_wire_query in wire.hpp for every answering rule).
//
// The World can change while the server runs (the setup under test publishes its DKIM
// key): the server reads it at query time under a mutex, and changes go through update().
//
// Speed (bench/dns): UDP is served by `udp_threads` workers reading one socket in batches
// (recvmmsg/sendmmsg), each with a response cache of the encoded replies; update() bumps
// a generation that empties every cache, so the next query sees the new world. Changing
// a shared world behind the server's back (not through update()) is not seen while cached.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio/io_context.hpp>

#include "mailsim/dns/resolver.hpp"
#include "mailsim/dns/wire.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim::dns {

struct ServerOptions {
  std::string address = "127.0.0.1";  // loopback only: anything else is refused at start()
  std::uint16_t port = 0;             // 0 = an ephemeral port; see FakeDnsServer::port()
  // RFC 7766 §6.2.3 asks servers to time out idle TCP connections; 10 s is generous for a
  // simulator whose clients send their query at once.
  std::chrono::milliseconds tcp_idle_timeout{10'000};
  std::size_t max_tcp_connections = 64;  // beyond it, new connections are closed at once
  bool udp = true;
  bool tcp = true;
  // UDP worker threads for start() (start(io) serves UDP on the caller's io_context).
  // 0 = one per hardware thread, at most 4.
  std::size_t udp_threads = 0;
  // Cache encoded replies (see server_cache.hpp); off = every query goes through ldns.
  bool response_cache = true;
  // The netns fabric (harness/net/netns_fabric.hpp) runs the server on a thread inside the
  // DNS host's own network namespace, which has no route out of the world; there the
  // world's address (203.0.113.53) may be bound instead of a loopback one. Only set it on
  // such a thread.
  bool in_sealed_namespace = false;
};

// Counters since start(), for tests and the bench.
struct ServerStats {
  std::uint64_t queries = 0;      // messages handled (UDP + TCP), answered or not
  std::uint64_t udp_queries = 0;
  std::uint64_t tcp_queries = 0;
  std::uint64_t dropped = 0;      // no response sent (timeout fault, unreadable, QR=1)
  std::uint64_t truncated = 0;    // answered with TC=1 over UDP
  std::uint64_t formerr = 0;
  std::uint64_t tcp_connections = 0;  // accepted
  std::uint64_t tcp_rejected = 0;     // closed at once because of max_tcp_connections
  std::uint64_t cache_hits = 0;       // UDP queries answered from the response cache
  std::uint64_t cache_misses = 0;     // cacheable UDP queries that went through ldns
};

// One query as the server saw it, for the harness's trace ("what was asked").
struct QueryLogEntry {
  std::string name;         // canonical; "" when the question was unreadable
  std::uint16_t type = 0;   // the RR TYPE code (world::RrType when it is one)
  Rcode rcode = Rcode::noerror;
  Transport transport = Transport::udp;
  bool answered = true;     // false: dropped (e.g. the timeout fault)
  bool truncated = false;
};
using QueryLog = std::function<void(const QueryLogEntry&)>;

class FakeDnsServer {
 public:
  // The server shares the world with its owner, who changes it only through update().
  explicit FakeDnsServer(std::shared_ptr<world::World> world, ServerOptions options = {});
  // Takes its own copy of the world.
  explicit FakeDnsServer(world::World world, ServerOptions options = {});
  ~FakeDnsServer();
  FakeDnsServer(const FakeDnsServer&) = delete;
  FakeDnsServer& operator=(const FakeDnsServer&) = delete;

  // Binds (throws std::system_error naming the address on failure, std::invalid_argument
  // for a non-loopback address) and serves on a thread of its own until stop().
  void start();
  // Binds and serves on the caller's io_context; the caller runs it. stop() closes the
  // sockets; the coroutines end at the io_context's next turn.
  void start(boost::asio::io_context& io);
  void stop();
  bool running() const { return running_; }

  // The bound address and port (valid after start()).
  const std::string& address() const { return options_.address; }
  std::uint16_t port() const { return port_; }

  // Changes the world under the server's lock, between queries; every cached reply is
  // forgotten before update() returns.
  void update(const std::function<void(world::World&)>& change);
  // Reads it under the same lock.
  void read(const std::function<void(const world::World&)>& look) const;
  // An in-process resolver over the served world that takes the lock per query.
  std::unique_ptr<Resolver> resolver() const;

  // Called for every query, on a server thread, before the reply is sent; calls are
  // serialized even with several UDP workers. Keep it short. Set before start().
  void set_query_log(QueryLog log) { query_log_ = std::move(log); }
  ServerStats stats() const;

  // The socket-free step, under the world lock: exposed for the bench and fuzzing.
  WireResult handle(std::span<const std::uint8_t> query, Transport transport);

  struct Impl;  // the sockets and coroutines (server.cpp)

 private:
  void record(const WireResult& result, Transport transport);
  // Binds and spawns; with udp_workers, UDP goes to worker threads instead of `io`.
  void start_on(boost::asio::io_context& io, bool udp_workers);

  std::shared_ptr<world::World> world_;
  ServerOptions options_;
  mutable std::shared_ptr<std::mutex> world_mutex_ = std::make_shared<std::mutex>();
  QueryLog query_log_;
  std::uint16_t port_ = 0;
  std::atomic<bool> running_{false};
  std::shared_ptr<Impl> impl_;

  struct Counters {
    std::atomic<std::uint64_t> queries{0}, udp{0}, tcp{0}, dropped{0}, truncated{0},
        formerr{0}, tcp_connections{0}, tcp_rejected{0}, cache_hits{0}, cache_misses{0};
  };
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
  // Bumped by update() under the world lock; response caches compare it per query.
  std::shared_ptr<std::atomic<std::uint64_t>> generation_ =
      std::make_shared<std::atomic<std::uint64_t>>(0);
};

// True for 127.0.0.0/8 and ::1 — the only addresses mailsim's DNS ever binds or dials.
bool is_loopback_address(std::string_view address);

}  // namespace mailsim::dns
