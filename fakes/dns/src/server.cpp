#include "mailsim/dns/server.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <set>
#include <stdexcept>
#include <system_error>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/core.h>

#include "server_cache.hpp"

namespace mailsim::dns {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;

bool is_loopback_address(std::string_view address) {
  std::string a(address);
  in_addr v4{};
  if (inet_pton(AF_INET, a.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, a.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// Everything the coroutines touch lives here, owned by shared_ptr, so a coroutine still
// pending on a caller's io_context after stop() never reaches a destroyed server.
struct FakeDnsServer::Impl {
  // Per-query counts, added to the shared atomics once per batch (before the replies go
  // out, so a client that has its reply also sees it counted).
  struct Tally {
    std::uint64_t queries = 0, udp = 0, tcp = 0, dropped = 0, truncated = 0, formerr = 0,
                  hits = 0, misses = 0;
    void flush(Counters& c) {
      auto add = [](std::atomic<std::uint64_t>& to, std::uint64_t& n) {
        if (n) to.fetch_add(n, std::memory_order_relaxed);
        n = 0;
      };
      add(c.queries, queries);
      add(c.udp, udp);
      add(c.tcp, tcp);
      add(c.dropped, dropped);
      add(c.truncated, truncated);
      add(c.formerr, formerr);
      add(c.cache_hits, hits);
      add(c.cache_misses, misses);
    }
  };

  std::shared_ptr<world::World> world;
  std::shared_ptr<std::mutex> world_mutex;
  std::shared_ptr<std::atomic<std::uint64_t>> generation;
  QueryLog query_log;
  std::mutex query_log_mutex;
  ServerOptions options;
  std::shared_ptr<Counters> counters;

  // UDP workers (start() only): one socket, several threads reading it.
  int udp_fd = -1;
  std::atomic<bool> stopping{false};
  std::vector<std::thread> udp_workers;

  ~Impl() {
    if (udp_fd >= 0) ::close(udp_fd);
  }

  // Counts one query and logs it (the log is the slow path: only when set).
  void note(Tally& tally, const std::string& qname, std::uint16_t qtype, Rcode rcode,
            bool truncated, bool answered, Transport transport) {
    ++tally.queries;
    ++(transport == Transport::udp ? tally.udp : tally.tcp);
    if (!answered) ++tally.dropped;
    if (truncated && transport == Transport::udp) ++tally.truncated;
    if (rcode == Rcode::formerr) ++tally.formerr;
    if (query_log) {
      std::lock_guard lock(query_log_mutex);
      query_log(QueryLogEntry{qname, qtype, rcode, transport, answered, truncated});
    }
  }

  // One query in; true with `out` filled when a reply goes back. With a cache, a repeated
  // question is answered without ldns and without the world lock (server_cache.hpp).
  bool answer(detail::ResponseCache* cache, std::span<const std::uint8_t> query,
              Transport transport, std::vector<std::uint8_t>& out, Tally& tally,
              std::string& key) {
    if (cache != nullptr) {
      if (auto shape = detail::shape_of(query)) {
        cache->sync(generation->load(std::memory_order_acquire));
        detail::make_key(query, *shape, transport, key);
        if (const auto* hit = cache->find(key, query, *shape)) {
          ++tally.hits;
          note(tally, hit->qname, hit->qtype, hit->rcode, hit->truncated,
               hit->response.has_value(), transport);
          return detail::render(*hit, query, *shape, out);
        }
        ++tally.misses;
        WireResult asked, flipped;
        std::uint64_t computed_at = 0;
        {
          std::lock_guard lock(*world_mutex);
          computed_at = generation->load(std::memory_order_relaxed);
          asked = handle_wire_query(*world, query, transport);
          flipped = handle_wire_query(*world, detail::flip_name_case(query, *shape), transport);
        }
        note(tally, asked.qname, asked.qtype, asked.rcode, asked.truncated,
             asked.response.has_value(), transport);
        cache->store(key, detail::make_entry(query, *shape, asked, flipped), computed_at);
        if (!asked.response) return false;
        out = std::move(*asked.response);
        return true;
      }
    }
    WireResult result;
    {
      std::lock_guard lock(*world_mutex);
      result = handle_wire_query(*world, query, transport);
    }
    note(tally, result.qname, result.qtype, result.rcode, result.truncated,
         result.response.has_value(), transport);
    if (!result.response) return false;
    out = std::move(*result.response);
    return true;
  }

  std::unique_ptr<asio::io_context> own_io;
  asio::io_context* io = nullptr;
  std::thread thread;
  std::unique_ptr<udp::socket> udp_socket;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::mutex connections_mutex;
  std::set<std::shared_ptr<tcp::socket>> connections;

  void close_all() {
    if (udp_socket) {
      asio::post(udp_socket->get_executor(), [s = udp_socket.get()] {
        error_code e;
        s->close(e);
      });
    }
    if (acceptor) {
      asio::post(acceptor->get_executor(), [a = acceptor.get()] {
        error_code e;
        a->close(e);
      });
    }
    std::lock_guard lock(connections_mutex);
    for (const auto& c : connections)
      asio::post(c->get_executor(), [c] {
        error_code e;
        c->close(e);
      });
  }
};

namespace {

using ImplPtr = std::shared_ptr<FakeDnsServer::Impl>;

}  // namespace

FakeDnsServer::FakeDnsServer(std::shared_ptr<world::World> world, ServerOptions options)
    : world_(std::move(world)), options_(std::move(options)) {
  if (!world_) throw std::invalid_argument("FakeDnsServer needs a world");
}

FakeDnsServer::FakeDnsServer(world::World world, ServerOptions options)
    : FakeDnsServer(std::make_shared<world::World>(std::move(world)), std::move(options)) {}

FakeDnsServer::~FakeDnsServer() { stop(); }

void FakeDnsServer::update(const std::function<void(world::World&)>& change) {
  std::lock_guard lock(*world_mutex_);
  // Bumped even if `change` throws halfway: the world may be changed all the same.
  struct Bump {
    std::atomic<std::uint64_t>& generation;
    ~Bump() { generation.fetch_add(1, std::memory_order_release); }
  } bump{*generation_};
  change(*world_);
}

void FakeDnsServer::read(const std::function<void(const world::World&)>& look) const {
  std::lock_guard lock(*world_mutex_);
  look(*world_);
}

namespace {

class LockedWorldResolver final : public Resolver {
 public:
  LockedWorldResolver(std::shared_ptr<world::World> world, std::shared_ptr<std::mutex> mutex)
      : world_(std::move(world)), mutex_(std::move(mutex)) {}
  Answer query(std::string_view name, RrType type) override {
    std::lock_guard lock(*mutex_);
    return resolve_in_world(*world_, name, type);
  }

 private:
  std::shared_ptr<world::World> world_;
  std::shared_ptr<std::mutex> mutex_;
};

}  // namespace

std::unique_ptr<Resolver> FakeDnsServer::resolver() const {
  return std::make_unique<LockedWorldResolver>(world_, world_mutex_);
}

ServerStats FakeDnsServer::stats() const {
  ServerStats s;
  s.queries = counters_->queries;
  s.udp_queries = counters_->udp;
  s.tcp_queries = counters_->tcp;
  s.dropped = counters_->dropped;
  s.truncated = counters_->truncated;
  s.formerr = counters_->formerr;
  s.tcp_connections = counters_->tcp_connections;
  s.tcp_rejected = counters_->tcp_rejected;
  s.cache_hits = counters_->cache_hits;
  s.cache_misses = counters_->cache_misses;
  return s;
}

WireResult FakeDnsServer::handle(std::span<const std::uint8_t> query, Transport transport) {
  WireResult result;
  {
    std::lock_guard lock(*world_mutex_);
    result = handle_wire_query(*world_, query, transport);
  }
  record(result, transport);
  return result;
}

void FakeDnsServer::record(const WireResult& result, Transport transport) {
  auto& c = *counters_;
  ++c.queries;
  ++(transport == Transport::udp ? c.udp : c.tcp);
  if (!result.response) ++c.dropped;
  if (result.truncated && transport == Transport::udp) ++c.truncated;
  if (result.rcode == Rcode::formerr) ++c.formerr;
  if (query_log_) {
    query_log_(QueryLogEntry{result.qname, result.qtype, result.rcode, transport,
                             result.response.has_value(), result.truncated});
  }
}

namespace {

// UDP on the caller's io_context (start(io)): one coroutine, one cache.
awaitable<void> udp_loop(ImplPtr self) {
  std::vector<std::uint8_t> buffer(65535);
  std::vector<std::uint8_t> reply;
  std::string key;
  detail::ResponseCache cache;
  detail::ResponseCache* use_cache = self->options.response_cache ? &cache : nullptr;
  FakeDnsServer::Impl::Tally tally;
  udp::endpoint from;
  error_code ec;
  for (;;) {
    std::size_t n = co_await self->udp_socket->async_receive_from(
        asio::buffer(buffer), from, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !self->udp_socket->is_open()) co_return;
    if (ec) continue;  // e.g. ICMP port unreachable from an earlier reply: keep serving
    bool send = self->answer(use_cache, std::span(buffer.data(), n), Transport::udp, reply,
                             tally, key);
    tally.flush(*self->counters);
    if (!send) continue;
    co_await self->udp_socket->async_send_to(asio::buffer(reply), from,
                                             asio::redirect_error(asio::use_awaitable, ec));
  }
}

// A UDP worker thread (start()): reads up to kBatch datagrams per system call, answers
// them (mostly from its own cache), and sends the replies in one call. Ends when stop()
// shuts the socket down (recvmmsg returns) or, at the latest, at the next receive timeout.
void udp_worker(const ImplPtr& self) {
  constexpr std::size_t kBatch = 32;
  // One octet more than we ever accept, so an oversized datagram reaches
  // handle_wire_query as oversized and is dropped exactly as before.
  constexpr std::size_t kSlot = kMaxQuerySize + 1;
  std::vector<std::uint8_t> in(kBatch * kSlot);
  std::array<std::vector<std::uint8_t>, kBatch> out;
  std::array<sockaddr_storage, kBatch> from{};
  std::array<iovec, kBatch> in_iov{}, out_iov{};
  std::array<mmsghdr, kBatch> in_msg{}, out_msg{};
  std::string key;
  detail::ResponseCache cache;
  detail::ResponseCache* use_cache = self->options.response_cache ? &cache : nullptr;
  FakeDnsServer::Impl::Tally tally;

  while (!self->stopping.load(std::memory_order_relaxed)) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      in_iov[i] = {in.data() + i * kSlot, kSlot};
      in_msg[i] = {};
      in_msg[i].msg_hdr.msg_name = &from[i];
      in_msg[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      in_msg[i].msg_hdr.msg_iov = &in_iov[i];
      in_msg[i].msg_hdr.msg_iovlen = 1;
    }
    int got = ::recvmmsg(self->udp_fd, in_msg.data(), kBatch, MSG_WAITFORONE, nullptr);
    // After shutdown() Linux reports an empty "datagram": not a query, stop here.
    if (self->stopping.load(std::memory_order_relaxed)) break;
    if (got <= 0) continue;  // timeout, EINTR or an ICMP error: check and go on
    unsigned replies = 0;
    for (int i = 0; i < got; ++i) {
      std::size_t size = in_msg[i].msg_len;
      if (in_msg[i].msg_hdr.msg_flags & MSG_TRUNC) size = kSlot;
      if (!self->answer(use_cache, std::span(in.data() + i * kSlot, size), Transport::udp,
                        out[replies], tally, key))
        continue;
      out_iov[replies] = {out[replies].data(), out[replies].size()};
      out_msg[replies] = {};
      out_msg[replies].msg_hdr.msg_name = &from[i];
      out_msg[replies].msg_hdr.msg_namelen = in_msg[i].msg_hdr.msg_namelen;
      out_msg[replies].msg_hdr.msg_iov = &out_iov[replies];
      out_msg[replies].msg_hdr.msg_iovlen = 1;
      ++replies;
    }
    tally.flush(*self->counters);
    for (unsigned sent = 0; sent < replies;) {
      int n = ::sendmmsg(self->udp_fd, out_msg.data() + sent, replies - sent, 0);
      if (n < 0 && errno == EINTR) continue;
      // A reply that cannot go (the client's port closed, buffers full) is lost like any
      // UDP datagram; skip it and send the rest.
      sent += n > 0 ? static_cast<unsigned>(n) : 1u;
    }
  }
}

awaitable<void> tcp_session(ImplPtr self, std::shared_ptr<tcp::socket> socket) {
  struct Unregister {
    ImplPtr self;
    std::shared_ptr<tcp::socket> socket;
    ~Unregister() {
      error_code e;
      socket->close(e);
      std::lock_guard lock(self->connections_mutex);
      self->connections.erase(socket);
    }
  } unregister{self, socket};

  asio::steady_timer deadline(socket->get_executor());
  // Every read and write runs against the idle deadline; when it fires the socket is
  // closed and the pending operation fails (RFC 7766 §6.2.3).
  auto arm = [&] {
    deadline.expires_after(self->options.tcp_idle_timeout);
    deadline.async_wait([socket](error_code e) {
      if (!e) socket->close(e);
    });
  };
  std::vector<std::uint8_t> body(kMaxQuerySize);
  std::vector<std::uint8_t> reply;
  std::string key;
  FakeDnsServer::Impl::Tally tally;
  error_code ec;
  for (;;) {
    arm();
    std::array<std::uint8_t, 2> length{};
    co_await asio::async_read(*socket, asio::buffer(length),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    std::size_t size = (std::size_t{length[0]} << 8) | length[1];
    // A length we would never accept is not worth reading: close (RFC 7766 §8 lets the
    // server close on a protocol error).
    if (size < kDnsHeaderSize || size > kMaxQuerySize) break;
    co_await asio::async_read(*socket, asio::buffer(body.data(), size),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    bool send = self->answer(nullptr, std::span(body.data(), size), Transport::tcp, reply,
                             tally, key);
    tally.flush(*self->counters);
    if (!send) continue;  // dropped (timeout fault): the client waits it out
    std::array<std::uint8_t, 2> out_length{static_cast<std::uint8_t>(reply.size() >> 8),
                                           static_cast<std::uint8_t>(reply.size() & 0xff)};
    std::array<asio::const_buffer, 2> parts{asio::buffer(out_length), asio::buffer(reply)};
    arm();
    co_await asio::async_write(*socket, parts, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
  deadline.cancel();
}

awaitable<void> accept_loop(ImplPtr self) {
  error_code ec;
  for (;;) {
    tcp::socket socket(asio::make_strand(*self->io));
    co_await self->acceptor->async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !self->acceptor->is_open()) co_return;
    if (ec) continue;
    std::shared_ptr<tcp::socket> shared;
    {
      std::lock_guard lock(self->connections_mutex);
      if (self->connections.size() >= self->options.max_tcp_connections) {
        ++self->counters->tcp_rejected;
        socket.close(ec);
        continue;
      }
      shared = std::make_shared<tcp::socket>(std::move(socket));
      self->connections.insert(shared);
    }
    ++self->counters->tcp_connections;
    asio::co_spawn(shared->get_executor(), tcp_session(self, shared), asio::detached);
  }
}

}  // namespace

namespace {

// The UDP socket the worker threads share: blocking, with a receive timeout so a worker
// notices stop() even if the shutdown wake-up were missed, and a roomy receive buffer so
// bursts wait in the kernel instead of being dropped.
int open_worker_socket(const asio::ip::address& ip, std::uint16_t port, std::string_view address) {
  int fd = ::socket(ip.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::system_error(errno, std::generic_category(),
                            fmt::format("cannot open a UDP socket for {}", address));
  timeval timeout{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  int buffer = 4 << 20;  // capped by net.core.rmem_max; best effort
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  udp::endpoint endpoint(ip, port);
  if (::bind(fd, endpoint.data(), static_cast<socklen_t>(endpoint.size())) != 0) {
    int error = errno;
    ::close(fd);
    throw std::system_error(error, std::generic_category(),
                            fmt::format("cannot bind UDP {}:{}", address, port));
  }
  return fd;
}

std::uint16_t bound_port(int fd) {
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
  if (local.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
}

}  // namespace

void FakeDnsServer::start(asio::io_context& io) { start_on(io, false); }

void FakeDnsServer::start_on(asio::io_context& io, bool udp_workers) {
  if (running_) throw std::logic_error("FakeDnsServer is already running");
  if (!options_.in_sealed_namespace && !is_loopback_address(options_.address))
    throw std::invalid_argument(fmt::format(
        "FakeDnsServer binds loopback addresses only (127.0.0.0/8, ::1), not '{}'",
        options_.address));
  auto impl = std::make_shared<Impl>();
  impl->options = options_;
  impl->counters = counters_;
  impl->world = world_;
  impl->world_mutex = world_mutex_;
  impl->generation = generation_;
  impl->query_log = query_log_;
  impl->io = &io;
  auto ip = asio::ip::make_address(options_.address);

  // With port 0, UDP picks the ephemeral port and TCP must get the same one; another
  // process may hold it on TCP, so try a few times.
  error_code ec;
  for (int attempt = 0; attempt < 16; ++attempt) {
    impl->udp_socket.reset();
    impl->acceptor.reset();
    if (impl->udp_fd >= 0) ::close(impl->udp_fd);
    impl->udp_fd = -1;
    std::uint16_t port = options_.port;
    if (options_.udp && udp_workers) {
      impl->udp_fd = open_worker_socket(ip, port, options_.address);
      port = bound_port(impl->udp_fd);
    } else if (options_.udp) {
      impl->udp_socket = std::make_unique<udp::socket>(io);
      impl->udp_socket->open(ip.is_v4() ? udp::v4() : udp::v6());
      impl->udp_socket->bind(udp::endpoint(ip, port), ec);
      if (ec)
        throw std::system_error(ec, fmt::format("cannot bind UDP {}:{}", options_.address, port));
      port = impl->udp_socket->local_endpoint().port();
    }
    if (options_.tcp) {
      impl->acceptor = std::make_unique<tcp::acceptor>(io);
      impl->acceptor->open(ip.is_v4() ? tcp::v4() : tcp::v6());
      impl->acceptor->set_option(asio::socket_base::reuse_address(true));
      impl->acceptor->bind(tcp::endpoint(ip, port), ec);
      if (ec && options_.port == 0 && options_.udp) continue;  // that port is taken on TCP
      if (ec)
        throw std::system_error(ec, fmt::format("cannot bind TCP {}:{}", options_.address, port));
      impl->acceptor->listen(asio::socket_base::max_listen_connections);
      port = impl->acceptor->local_endpoint().port();
    }
    port_ = port;
    break;
  }
  if (ec)
    throw std::system_error(ec, fmt::format("cannot find a port free on both UDP and TCP at {}",
                                            options_.address));
  if (impl->udp_socket) asio::co_spawn(io, udp_loop(impl), asio::detached);
  if (impl->acceptor) asio::co_spawn(io, accept_loop(impl), asio::detached);
  if (impl->udp_fd >= 0) {
    std::size_t threads = options_.udp_threads;
    if (threads == 0) threads = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);
    for (std::size_t i = 0; i < threads; ++i)
      impl->udp_workers.emplace_back([self = impl] { udp_worker(self); });
  }
  impl_ = std::move(impl);
  running_ = true;
}

void FakeDnsServer::start() {
  auto io = std::make_unique<asio::io_context>(1);
  start_on(*io, true);
  impl_->own_io = std::move(io);
  impl_->thread = std::thread([io = impl_->own_io.get()] { io->run(); });
}

void FakeDnsServer::stop() {
  if (!running_.exchange(false)) return;
  impl_->close_all();
  if (!impl_->udp_workers.empty()) {
    // shutdown() wakes every thread blocked in recvmmsg on this socket (Linux); the
    // receive timeout bounds the wait if it did not.
    impl_->stopping = true;
    ::shutdown(impl_->udp_fd, SHUT_RDWR);
    for (auto& worker : impl_->udp_workers) worker.join();
    impl_->udp_workers.clear();
  }
  if (impl_->own_io) {
    impl_->own_io->stop();
    if (impl_->thread.joinable()) impl_->thread.join();
    // The pending coroutines die with the io_context, and they hold ImplPtrs: destroy the
    // io_context here, not in ~Impl, or Impl → own_io → coroutine frames → Impl is a cycle
    // and every started server leaks itself and its World (LeakSanitizer). The I/O objects
    // go first, as they must not outlive their io_context; their pending operations are
    // abandoned with it. Not under connections_mutex: dying sessions take it to unregister.
    impl_->acceptor.reset();
    impl_->udp_socket.reset();
    impl_->own_io.reset();
    std::lock_guard lock(impl_->connections_mutex);
    impl_->connections.clear();
  }
  impl_.reset();
}

}  // namespace mailsim::dns
