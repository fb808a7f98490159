// The loopback fabric: realizes a World's virtual addresses (12.34.56.78, 142.250.27.26,
// 2a01:4f8:1:2::78, …) as 127.N.x.y aliases on the loopback interface, so every actor can
// listen and dial as "its" host without root (DESIGN.md "Virtual addresses, three fabrics").
//
// On Linux the whole 127.0.0.0/8 is routed to `lo` (RFC 1122 §3.2.1.3 reserves it for
// loopback), so binding 127.N.x.y works without configuring aliases. Each run gets its own
// /16 block 127.N.0.0/16 (N = run index 1..250, chosen by the caller) so runs in parallel
// never collide. Virtual ports below 1024 are shifted by a port base (25 → 20025) so no
// privilege is needed; the mapping is reversible.
//
// The fabric is the seal of the world: only world hosts have wire addresses, and dial()
// refuses anything else. No socket it hands out can reach outside 127/8.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>

#include "mailsim/world/world.hpp"

namespace mailsim::net {

struct FabricOptions {
  unsigned run_index = 1;            // N of 127.N.0.0/16, 1..250
  std::uint16_t port_base = 20000;   // virtual port p < 1024 listens on port_base + p; 0 = same
};

// Why a dial failed, in a form the caller can map to what a real client would log.
enum class DialError {
  none,
  egress_blocked,  // the source host's provider drops that port (a real client: timeout)
  refused,         // the destination does not listen on that port (RST)
  no_route,        // an address outside the sealed world
};

// Where one TCP connection from a world host to a virtual address really goes.
struct Dial {
  DialError error = DialError::none;
  std::string message;          // set when error != none
  std::string local_wire;       // bind the client socket here (port 0)
  std::string remote_wire;      // connect here …
  std::uint16_t remote_port = 0;  // … on this port
  std::string remote_host;      // the destination host's name
  bool ok() const { return error == DialError::none; }
  boost::asio::ip::tcp::endpoint local_endpoint() const;   // local_wire:0
  boost::asio::ip::tcp::endpoint remote_endpoint() const;  // remote_wire:remote_port
};

class LoopbackFabric {
 public:
  // Assigns every address of every host of `world` a wire alias, in world order
  // (deterministic). Throws std::invalid_argument for a run index outside 1..250 or a
  // world with more addresses than a /16 holds.
  explicit LoopbackFabric(const world::World& world, FabricOptions options = {});

  unsigned run_index() const { return options_.run_index; }
  std::string block() const;  // "127.7.0.0/16"

  // virtual "12.34.56.78" → wire "127.7.0.1"; nullopt outside the world.
  std::optional<std::string> wire_for(std::string_view virtual_address) const;
  // wire "127.7.0.1" → virtual "12.34.56.78"; nullopt for any other address.
  std::optional<std::string> virtual_for(std::string_view wire_address) const;
  // Ports: virtual 25 ↔ wire 20025 (identity for ports ≥ 1024 or port_base 0).
  std::uint16_t wire_port(std::uint16_t virtual_port) const;
  std::uint16_t virtual_port(std::uint16_t wire_port) const;

  // Where `host` (name or virtual address) listens for `port`. Throws std::invalid_argument
  // for a host not in the world. The first address of the host; see listen_endpoints().
  boost::asio::ip::tcp::endpoint listen_endpoint(std::string_view host,
                                                 std::uint16_t port) const;

  // Whether the host (name or virtual address) may open TCP to `port` at all.
  bool egress_allowed(std::string_view from_host, std::uint16_t port) const;

  // The route of one connection from `from_virtual` (a host's virtual address, or its
  // name) to `to_virtual`:`port`. Errors, in the order they would happen on a real network:
  // unknown source/destination → "no route: address outside the sealed world"; blocked
  // egress → "port 25 blocked by the hosting provider"; a Cloudflare proxy and an SMTP port →
  // "connection refused: Cloudflare proxy does not carry SMTP"; another closed port →
  // "connection refused: <host> does not listen on port <p>".
  Dial dial(std::string_view from_virtual, std::string_view to_virtual, std::uint16_t port) const;

  // Every (virtual → wire) pair, for reports and --verbose.
  const std::map<std::string, std::string>& address_map() const { return to_wire_; }

 private:
  const world::Host* find_host(std::string_view name_or_address) const;

  const world::World* world_;
  FabricOptions options_;
  std::map<std::string, std::string> to_wire_;
  std::map<std::string, std::string> to_virtual_;
};

// Opens `socket`, binds it to the dial's local wire address (so the peer sees the virtual
// source address through virtual_for) and connects, with a deadline. Synchronous; for
// tests and simple clients. Returns the error (connection refused, timed out, …).
boost::system::error_code connect(boost::asio::ip::tcp::socket& socket, const Dial& dial);

}  // namespace mailsim::net
