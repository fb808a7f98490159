#include "mailsim/net/block_lease.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace mailsim::net {
namespace {

TEST(BlockLease, AHeldBlockIsSkippedAndFreedOnRelease) {
  auto first = BlockLease::acquire(200);
  EXPECT_EQ(first.block(), 200u);
  // Another taker (in this process or another) that prefers 200 gets the next free block.
  auto second = BlockLease::acquire(200);
  EXPECT_EQ(second.block(), 201u);
  {
    BlockLease moved = std::move(first);
    EXPECT_EQ(moved.block(), 200u);
  }  // released here
  auto third = BlockLease::acquire(200);
  EXPECT_EQ(third.block(), 200u);
}

TEST(BlockLease, WrapsAfterTheLastBlock) {
  auto last = BlockLease::acquire(250);
  EXPECT_EQ(last.block(), 250u);
  auto wrapped = BlockLease::acquire(250);
  EXPECT_EQ(wrapped.block(), 1u);
}

}  // namespace
}  // namespace mailsim::net
