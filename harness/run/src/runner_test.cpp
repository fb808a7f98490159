// Runner options, sharding and the failure paths that need no sockets. The full flow is
// exercised end to end in tests/e2e.
#include <gtest/gtest.h>

#include <set>

#include "mailsim/run/runner.hpp"
#include "mailsim/run/scenario.hpp"

namespace mailsim::run {
namespace {

TEST(Shard, ParsesKOverN) {
  Shard s = parse_shard("1/4");
  EXPECT_EQ(s.index, 1u);
  EXPECT_EQ(s.count, 4u);
}

TEST(Shard, RejectsWhatIsNotKOverN) {
  for (const char* bad : {"", "1", "4/4", "5/4", "0/0", "a/2", "1/b", "-1/2", "1/2/3", "1 /2"}) {
    EXPECT_THROW(parse_shard(bad), std::invalid_argument) << bad;
  }
  try {
    parse_shard("4/4");
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("0..3"), std::string::npos) << e.what();
  }
}

TEST(Shard, SplitIsDeterministicDisjointAndComplete) {
  std::vector<std::string> names = {"e", "b", "a", "d", "c", "f", "g"};
  std::set<std::string> seen;
  for (unsigned k = 0; k < 3; ++k) {
    auto part = shard_names(names, {k, 3});
    // The same input in another order gives the same shard (sorted by name first).
    std::vector<std::string> reversed(names.rbegin(), names.rend());
    EXPECT_EQ(part, shard_names(reversed, {k, 3}));
    for (const auto& n : part) EXPECT_TRUE(seen.insert(n).second) << n << " in two shards";
  }
  EXPECT_EQ(seen.size(), names.size());
  EXPECT_EQ(shard_names(names, {0, 3}), (std::vector<std::string>{"a", "d", "g"}));
}

TEST(RunnerOptions, UnknownPersonaAndSutAreRefusedWithTheChoices) {
  RunOptions o;
  o.personas = {"hotmail"};
  try {
    Runner r(o);
    FAIL() << "expected invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("gmail"), std::string::npos) << e.what();
  }
  RunOptions s;
  s.sut = "exim";
  EXPECT_THROW(Runner{s}, std::invalid_argument);
}

TEST(Runner, AWorldWithoutDnsHostFailsCleanlyWithAReason) {
  Scenario scenario;
  scenario.name = "empty";
  RunOptions o;
  o.run_index = 80;
  Runner runner(o);
  RunResult r = runner.run(scenario);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("DNS host"), std::string::npos) << r.error;
  EXPECT_TRUE(r.probes.empty());
}

TEST(Runner, RunAllAfterStopMarksEveryScenarioCancelled) {
  Scenario a, b;
  a.name = "b-second";
  b.name = "a-first";
  Runner runner;
  runner.request_stop();
  auto results = runner.run_all({a, b});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].scenario, "a-first");
  EXPECT_TRUE(results[0].cancelled);
  EXPECT_TRUE(results[1].cancelled);
}

}  // namespace
}  // namespace mailsim::run
