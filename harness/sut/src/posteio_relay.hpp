// Relays between the Docker bridge and the run's fabric (see posteio.hpp "Network design"):
// a TCP relay accepts on one address:port and splices each connection to a target chosen
// per connection; a UDP relay forwards each DNS datagram to the fake DNS and sends the
// answer back. Bounded: connection count, idle timeout, datagram size, reply wait.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "mailsim/sut/sut.hpp"

namespace mailsim::sut {

class RelaySet {
 public:
  RelaySet();
  ~RelaySet();
  RelaySet(const RelaySet&) = delete;
  RelaySet& operator=(const RelaySet&) = delete;

  // Listens on listen_address:port (port 0 = ephemeral); returns the bound port. Each
  // accepted connection goes where target() says (Route: wire address/port, local bind).
  std::uint16_t add_tcp(const std::string& listen_address, std::uint16_t port,
                        std::function<Route()> target);
  // UDP datagrams to listen_address:port are forwarded to `upstream` and answered.
  std::uint16_t add_udp(const std::string& listen_address, std::uint16_t port, Endpoint upstream);
  void run();   // starts the I/O thread (after the adds)
  void stop();  // closes everything; idempotent
  std::uint64_t connections() const { return connections_.load(); }

  std::chrono::milliseconds idle_timeout{60000};
  std::size_t max_connections = 64;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<std::uint64_t> connections_{0};
};

}  // namespace mailsim::sut
