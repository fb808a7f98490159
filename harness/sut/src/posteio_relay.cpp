#include "posteio_relay.hpp"

#include <array>
#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace mailsim::sut {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using boost::system::error_code;

struct RelaySet::Impl {
  asio::io_context ioc;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  std::vector<std::shared_ptr<udp::socket>> udp_sockets;
  std::thread thread;
  std::atomic<std::size_t> active{0};
};

RelaySet::RelaySet() : impl_(std::make_unique<Impl>()) {}
RelaySet::~RelaySet() { stop(); }

namespace {

// One direction of a spliced connection; both ends are shared so either direction may end
// last. A read that idles past `idle` ends the direction (explicit timeout on every read).
asio::awaitable<void> pump(std::shared_ptr<beast::tcp_stream> from_p,
                           std::shared_ptr<beast::tcp_stream> to_p, std::chrono::milliseconds idle) {
  beast::tcp_stream& from = *from_p;
  beast::tcp_stream& to = *to_p;
  std::array<char, 16384> buf;
  for (;;) {
    error_code ec;
    from.expires_after(idle);
    std::size_t n = co_await from.async_read_some(asio::buffer(buf),
                                                  asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    to.expires_after(idle);
    co_await asio::async_write(to, asio::buffer(buf.data(), n),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
  error_code ignored;
  to.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

std::uint16_t RelaySet::add_tcp(const std::string& listen_address, std::uint16_t port,
                                std::function<Route()> target) {
  auto acceptor = std::make_shared<tcp::acceptor>(
      impl_->ioc, tcp::endpoint(asio::ip::make_address(listen_address), port));
  impl_->acceptors.push_back(acceptor);
  auto idle = idle_timeout;
  auto limit = max_connections;
  Impl* impl = impl_.get();
  auto* counter = &connections_;
  asio::co_spawn(
      impl_->ioc,
      [acceptor, target, idle, limit, impl, counter]() -> asio::awaitable<void> {
        for (;;) {
          error_code ec;
          tcp::socket s = co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
          if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
          if (ec || impl->active.load() >= limit) continue;  // over the bound: drop it
          ++*counter;
          ++impl->active;
          asio::co_spawn(
              acceptor->get_executor(),
              [client = std::make_shared<beast::tcp_stream>(std::move(s)), target, idle,
               impl]() -> asio::awaitable<void> {
                Route r = target();
                auto upstream = std::make_shared<beast::tcp_stream>(client->get_executor());
                error_code cec;
                if (r.ok) {
                  auto remote = tcp::endpoint(asio::ip::make_address(r.wire_address, cec), r.wire_port);
                  if (!cec) upstream->socket().open(remote.protocol(), cec);
                  if (!cec && !r.local_address.empty())
                    upstream->socket().bind(tcp::endpoint(asio::ip::make_address(r.local_address), 0), cec);
                  if (!cec) {
                    upstream->expires_after(std::chrono::seconds(10));
                    co_await upstream->async_connect(remote, asio::redirect_error(asio::use_awaitable, cec));
                  }
                }
                if (r.ok && !cec) {
                  asio::co_spawn(client->get_executor(), pump(upstream, client, idle), asio::detached);
                  co_await pump(client, upstream, idle);
                }
                --impl->active;
              },
              asio::detached);
        }
      },
      asio::detached);
  return acceptor->local_endpoint().port();
}

std::uint16_t RelaySet::add_udp(const std::string& listen_address, std::uint16_t port,
                                Endpoint upstream) {
  auto sock = std::make_shared<udp::socket>(
      impl_->ioc, udp::endpoint(asio::ip::make_address(listen_address), port));
  impl_->udp_sockets.push_back(sock);
  asio::co_spawn(
      impl_->ioc,
      [sock, upstream]() -> asio::awaitable<void> {
        const udp::endpoint up(asio::ip::make_address(upstream.address), upstream.port);
        for (;;) {
          std::array<char, 4096> buf;  // EDNS answers from the fake DNS stay well below
          udp::endpoint peer;
          error_code ec;
          std::size_t n = co_await sock->async_receive_from(asio::buffer(buf), peer,
                                                            asio::redirect_error(asio::use_awaitable, ec));
          if (!sock->is_open()) co_return;
          if (ec) continue;
          // One forwarding socket per query: the answer's source proves it is the upstream's.
          udp::socket fwd(sock->get_executor(), udp::endpoint(up.protocol(), 0));
          co_await fwd.async_send_to(asio::buffer(buf.data(), n), up,
                                     asio::redirect_error(asio::use_awaitable, ec));
          if (ec) continue;
          asio::steady_timer timer(sock->get_executor(), std::chrono::seconds(3));
          timer.async_wait([&fwd](error_code) { error_code i; fwd.cancel(i); });
          std::array<char, 4096> answer;
          udp::endpoint from;
          std::size_t m = co_await fwd.async_receive_from(asio::buffer(answer), from,
                                                          asio::redirect_error(asio::use_awaitable, ec));
          timer.cancel();
          if (ec || from != up) continue;  // timed out: the client retries (RFC 1035 §4.2.1)
          co_await sock->async_send_to(asio::buffer(answer.data(), m), peer,
                                       asio::redirect_error(asio::use_awaitable, ec));
        }
      },
      asio::detached);
  return sock->local_endpoint().port();
}

void RelaySet::run() {
  if (!impl_->thread.joinable()) impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

void RelaySet::stop() {
  if (!impl_) return;
  asio::post(impl_->ioc, [this] {
    error_code ec;
    for (auto& a : impl_->acceptors) a->close(ec);
    for (auto& s : impl_->udp_sockets) s->close(ec);
  });
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace mailsim::sut
