#include "mailsim/dns/server.hpp"

#include <arpa/inet.h>

#include <array>
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
  std::function<WireResult(std::span<const std::uint8_t>, Transport)> handle;
  ServerOptions options;
  std::shared_ptr<Counters> counters;

  std::unique_ptr<asio::io_context> own_io;
  asio::io_context* io = nullptr;
  std::thread thread;
  std::unique_ptr<udp::socket> udp_socket;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::mutex connections_mutex;
  std::set<std::shared_ptr<tcp::socket>> connections;

  void close_all() {
    error_code ignored;
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

awaitable<void> udp_loop(ImplPtr self) {
  std::vector<std::uint8_t> buffer(65535);
  udp::endpoint from;
  error_code ec;
  for (;;) {
    std::size_t n = co_await self->udp_socket->async_receive_from(
        asio::buffer(buffer), from, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !self->udp_socket->is_open()) co_return;
    if (ec) continue;  // e.g. ICMP port unreachable from an earlier reply: keep serving
    WireResult result = self->handle(std::span(buffer.data(), n), Transport::udp);
    if (!result.response) continue;
    co_await self->udp_socket->async_send_to(asio::buffer(*result.response), from,
                                             asio::redirect_error(asio::use_awaitable, ec));
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
    WireResult result = self->handle(std::span(body.data(), size), Transport::tcp);
    if (!result.response) continue;  // dropped (timeout fault): the client waits it out
    const auto& reply = *result.response;
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

void FakeDnsServer::start(asio::io_context& io) {
  if (running_) throw std::logic_error("FakeDnsServer is already running");
  if (!is_loopback_address(options_.address))
    throw std::invalid_argument(fmt::format(
        "FakeDnsServer binds loopback addresses only (127.0.0.0/8, ::1), not '{}'",
        options_.address));
  auto impl = std::make_shared<Impl>();
  impl->options = options_;
  impl->counters = counters_;
  impl->io = &io;
  impl->handle = [this](std::span<const std::uint8_t> q, Transport t) { return handle(q, t); };
  auto ip = asio::ip::make_address(options_.address);

  // With port 0, UDP picks the ephemeral port and TCP must get the same one; another
  // process may hold it on TCP, so try a few times.
  error_code ec;
  for (int attempt = 0; attempt < 16; ++attempt) {
    impl->udp_socket.reset();
    impl->acceptor.reset();
    std::uint16_t port = options_.port;
    if (options_.udp) {
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
  impl_ = std::move(impl);
  running_ = true;
}

void FakeDnsServer::start() {
  auto io = std::make_unique<asio::io_context>(1);
  start(*io);
  impl_->own_io = std::move(io);
  impl_->thread = std::thread([io = impl_->own_io.get()] { io->run(); });
}

void FakeDnsServer::stop() {
  if (!running_.exchange(false)) return;
  impl_->close_all();
  if (impl_->own_io) {
    impl_->own_io->stop();
    if (impl_->thread.joinable()) impl_->thread.join();
    // The pending coroutines die with the io_context; sockets close with the Impl.
    std::lock_guard lock(impl_->connections_mutex);
    impl_->connections.clear();
  }
  impl_.reset();
}

}  // namespace mailsim::dns
