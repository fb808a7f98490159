// The seed decides the DKIM key and selector (DESIGN.md "Deterministic: injected clock and
// seeded keys"): the same seed gives the same key, byte for byte, and the same published
// record; another seed gives another key and selector. The key is not in the JSON report, so
// this looks at what the SUT published (RunResult::dkim) and what the fake DNS served.
// Loopback only: blocks 230-232 of the fabric.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "mailsim/run/runner.hpp"
#include "mailsim/run/scenario.hpp"

namespace mailsim::run {
namespace {

RunResult run_baseline(std::uint64_t seed, unsigned block) {
  static const Catalog catalog =
      load_catalog(std::filesystem::path(MAILSIM_SOURCE_DIR) / "scenarios" / "catalog");
  RunOptions options;
  options.seed = seed;
  options.run_index = block;
  options.personas = {"gmail"};
  Runner runner(options);
  return runner.run(catalog.at("guide-baseline"));
}

std::string key_of(const sut::DkimPublication& p) {
  auto at = p.txt.find("p=");
  return at == std::string::npos ? std::string() : p.txt.substr(at + 2);
}

TEST(CatalogSeed, SameSeedSameKeyOtherSeedOtherKeyAndSelector) {
  RunResult a = run_baseline(11, 230);
  RunResult b = run_baseline(11, 231);
  RunResult c = run_baseline(12, 232);
  for (const RunResult* r : {&a, &b, &c}) {
    ASSERT_TRUE(r->ok()) << r->scenario << ": " << r->error;
    ASSERT_EQ(r->dkim.size(), 1u);
    ASSERT_GT(key_of(r->dkim[0]).size(), 300u) << r->dkim[0].txt;  // a 2048-bit RSA key
    // What the SUT asked to publish is what the world's DNS served.
    EXPECT_NE(r->zone_text.find(r->dkim[0].record_name), std::string::npos);
  }
  EXPECT_EQ(a.dkim[0].selector, b.dkim[0].selector);
  EXPECT_EQ(a.dkim[0].txt, b.dkim[0].txt) << "same seed must give the same key";
  EXPECT_NE(a.dkim[0].selector, c.dkim[0].selector);
  EXPECT_NE(key_of(a.dkim[0]), key_of(c.dkim[0])) << "another seed must give another key";
  EXPECT_EQ(a.dkim[0].bits, c.dkim[0].bits);
}

}  // namespace
}  // namespace mailsim::run
