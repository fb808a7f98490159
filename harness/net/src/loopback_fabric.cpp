#include "mailsim/net/loopback_fabric.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <fmt/core.h>

namespace mailsim::net {
namespace {

namespace ip = boost::asio::ip;

// Ports a Cloudflare proxy refuses although a mail client expects them (RFC 5321 §4.5.4
// port 25, RFC 8314 §3.3 port 465, RFC 6409 §3.1 port 587).
bool is_smtp_port(std::uint16_t port) { return port == 25 || port == 465 || port == 587; }

// Canonical text of an address ("2A01:4F8::78" and "2a01:04f8::78" are one address).
std::string canonical_address(std::string_view text) {
  boost::system::error_code ec;
  auto a = ip::make_address(std::string(text), ec);
  return ec ? std::string(text) : a.to_string();
}

}  // namespace

ip::tcp::endpoint Dial::local_endpoint() const {
  return {ip::make_address(local_wire), 0};
}
ip::tcp::endpoint Dial::remote_endpoint() const {
  return {ip::make_address(remote_wire), remote_port};
}

LoopbackFabric::LoopbackFabric(const world::World& world, FabricOptions options)
    : world_(&world), options_(options) {
  if (options_.run_index < 1 || options_.run_index > 250)
    throw std::invalid_argument(fmt::format(
        "run index {} is outside 1..250 (each run uses its own 127.N.0.0/16 block)",
        options_.run_index));
  if (options_.port_base != 0 && options_.port_base > 65535 - 1024)
    throw std::invalid_argument(
        fmt::format("port base {} leaves no room for ports below 1024", options_.port_base));
  // Host h, address a → 127.N.x.y in world order; .0 and .255 skipped so no alias looks like
  // a network or broadcast address.
  unsigned next = 0;
  for (const auto& host : world.hosts()) {
    for (const auto& address : host.addresses) {
      std::string v = canonical_address(address);
      if (to_wire_.contains(v)) continue;  // one address, one alias (shared by hosts)
      unsigned x = next / 254, y = next % 254 + 1;
      if (x > 255)
        throw std::invalid_argument("the world has more addresses than a /16 block holds");
      std::string wire = fmt::format("127.{}.{}.{}", options_.run_index, x, y);
      to_wire_[v] = wire;
      to_virtual_[wire] = v;
      ++next;
    }
  }
}

std::string LoopbackFabric::block() const {
  return fmt::format("127.{}.0.0/16", options_.run_index);
}

std::optional<std::string> LoopbackFabric::wire_for(std::string_view virtual_address) const {
  auto it = to_wire_.find(canonical_address(virtual_address));
  if (it == to_wire_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> LoopbackFabric::virtual_for(std::string_view wire_address) const {
  // Accept the IPv4-mapped form an IPv6 acceptor reports ("::ffff:127.7.0.1").
  std::string w = canonical_address(wire_address);
  if (w.rfind("::ffff:", 0) == 0) w = w.substr(7);
  auto it = to_virtual_.find(w);
  if (it == to_virtual_.end()) return std::nullopt;
  return it->second;
}

std::uint16_t LoopbackFabric::wire_port(std::uint16_t virtual_port) const {
  if (options_.port_base == 0 || virtual_port >= 1024) return virtual_port;
  return static_cast<std::uint16_t>(options_.port_base + virtual_port);
}

std::uint16_t LoopbackFabric::virtual_port(std::uint16_t port) const {
  if (options_.port_base == 0 || port < options_.port_base || port >= options_.port_base + 1024)
    return port;
  return static_cast<std::uint16_t>(port - options_.port_base);
}

const world::Host* LoopbackFabric::find_host(std::string_view name_or_address) const {
  if (!world::is_ip_address(name_or_address)) return world_->host(name_or_address);
  std::string v = canonical_address(name_or_address);
  for (const auto& h : world_->hosts())
    for (const auto& a : h.addresses)
      if (canonical_address(a) == v) return &h;
  return nullptr;
}

ip::tcp::endpoint LoopbackFabric::listen_endpoint(std::string_view host,
                                                  std::uint16_t port) const {
  const world::Host* h = find_host(host);
  if (!h || h->addresses.empty())
    throw std::invalid_argument(
        fmt::format("no host '{}' with an address in the world; cannot listen", host));
  std::string v = world::is_ip_address(host) ? std::string(host) : h->addresses.front();
  auto wire = wire_for(v);
  if (!wire)
    throw std::invalid_argument(fmt::format("address {} has no wire alias", v));
  return {ip::make_address(*wire), wire_port(port)};
}

bool LoopbackFabric::egress_allowed(std::string_view from_host, std::uint16_t port) const {
  const world::Host* h = find_host(from_host);
  return h && !h->blocked_egress_ports.contains(port);
}

Dial LoopbackFabric::dial(std::string_view from_virtual, std::string_view to_virtual,
                          std::uint16_t port) const {
  Dial d;
  auto fail = [&](DialError e, std::string msg) {
    d.error = e;
    d.message = std::move(msg);
    return d;
  };
  // The source: a host name or one of its addresses. A name dials from its first address
  // of the destination's family (IPv4 unless the destination is IPv6).
  const world::Host* from = find_host(from_virtual);
  if (!from)
    return fail(DialError::no_route,
                fmt::format("no route: address outside the sealed world (source {})",
                            from_virtual));
  std::string src;
  if (world::is_ip_address(from_virtual)) {
    src = canonical_address(from_virtual);
  } else {
    bool want_v6 = world::is_ipv6(to_virtual);
    for (const auto& a : from->addresses)
      if (world::is_ipv6(a) == want_v6) {
        src = canonical_address(a);
        break;
      }
    if (src.empty() && !from->addresses.empty()) src = canonical_address(from->addresses.front());
  }
  auto local = wire_for(src);
  if (!local)
    return fail(DialError::no_route,
                fmt::format("no route: address outside the sealed world (source {})", src));
  const world::Host* to = world::is_ip_address(to_virtual) ? find_host(to_virtual) : nullptr;
  auto remote = wire_for(to_virtual);
  if (!to || !remote)
    return fail(DialError::no_route,
                fmt::format("no route: address outside the sealed world ({})", to_virtual));
  // Guide §1: many VPS providers drop outbound port 25 until a ticket unblocks it.
  if (from->blocked_egress_ports.contains(port))
    return fail(DialError::egress_blocked,
                fmt::format("port {} blocked by the hosting provider", port));
  if (!to->open_ports.contains(port)) {
    if (to->role == world::HostRole::proxy && is_smtp_port(port))
      return fail(DialError::refused, "connection refused: Cloudflare proxy does not carry SMTP");
    return fail(DialError::refused,
                fmt::format("connection refused: {} does not listen on port {}", to->name, port));
  }
  d.local_wire = *local;
  d.remote_wire = *remote;
  d.remote_port = wire_port(port);
  d.remote_host = to->name;
  return d;
}

boost::system::error_code connect(ip::tcp::socket& socket, const Dial& dial) {
  boost::system::error_code ec;
  if (!dial.ok()) return boost::asio::error::host_unreachable;
  socket.open(ip::tcp::v4(), ec);
  if (ec) return ec;
  socket.bind(dial.local_endpoint(), ec);
  if (ec) return ec;
  // Non-blocking connect with an explicit 5 s deadline: loopback answers at once, but a
  // bound but unlistened port or a full backlog must not hang a run.
  socket.non_blocking(true, ec);
  socket.connect(dial.remote_endpoint(), ec);
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::in_progress) {
    pollfd p{socket.native_handle(), POLLOUT, 0};
    int n = ::poll(&p, 1, 5000);
    if (n == 0) return boost::asio::error::timed_out;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &err, &len);
    ec = err ? boost::system::error_code(err, boost::system::system_category())
             : boost::system::error_code();
  }
  if (!ec) socket.non_blocking(false, ec);
  return ec;
}

}  // namespace mailsim::net
