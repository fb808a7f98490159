#include "mailsim/net/block_lease.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <fmt/core.h>

namespace mailsim::net {

BlockLease BlockLease::acquire(unsigned preferred) {
  int last_error = 0;
  for (unsigned i = 0; i < kBlocks; ++i) {
    unsigned block = 1 + ((preferred == 0 ? 0 : preferred - 1) + i) % kBlocks;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(fmt::format("block lease: socket: {}", std::strerror(errno)));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(kLeasePort);
    sa.sin_addr.s_addr = htonl((127u << 24) | (block << 16) | (255u << 8) | 254u);
    // No SO_REUSEADDR: a second bind of the same address must fail while the lease lives.
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return BlockLease(fd, block);
    last_error = errno;
    ::close(fd);
    if (last_error != EADDRINUSE) break;  // not a taken block: a real problem, say it
  }
  throw std::runtime_error(fmt::format(
      "no free 127.N block for the run's world ({}): every block 127.1–127.250 is held by "
      "another mailsim run on this machine, or loopback aliases cannot be bound",
      std::strerror(last_error)));
}

BlockLease::BlockLease(BlockLease&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), block_(other.block_) {}

BlockLease& BlockLease::operator=(BlockLease&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    block_ = other.block_;
  }
  return *this;
}

BlockLease::~BlockLease() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace mailsim::net
