// A lease on one 127.N.0.0/16 block, so runs in different processes (two `mailsim run`s,
// ctest running suites side by side, pytest) never build their worlds in the same block.
#pragma once

#include <string>

namespace mailsim::net {

class BlockLease {
 public:
  // Number of blocks: 127.1 … 127.250 (net::FabricOptions::run_index).
  static constexpr unsigned kBlocks = 250;
  // The port the lease socket binds on 127.N.255.254: below every fabric port (port_base
  // 20000 + the world's ports), so it never collides with an actor of the run.
  static constexpr unsigned short kLeasePort = 19999;

  // Takes the first free block at or after `preferred` (1-based, wrapping after 250). The
  // lease is a bound TCP socket: the kernel makes taking it atomic across processes and
  // releases it when the process dies, so a crashed run never leaves a block taken.
  // Throws std::runtime_error when all 250 blocks are held.
  static BlockLease acquire(unsigned preferred);

  BlockLease(BlockLease&& other) noexcept;
  BlockLease& operator=(BlockLease&& other) noexcept;
  BlockLease(const BlockLease&) = delete;
  BlockLease& operator=(const BlockLease&) = delete;
  ~BlockLease();

  unsigned block() const { return block_; }

 private:
  BlockLease(int fd, unsigned block) : fd_(fd), block_(block) {}
  int fd_ = -1;
  unsigned block_ = 0;
};

}  // namespace mailsim::net
