// Public suffix list: the publicsuffix.org reference tests (vectors/dmarc/test_psl.txt),
// run against Debian's list, plus the algorithm's corner cases on a small list.
#include "mailsim/auth/psl.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "mailsim/auth/dmarc.hpp"

namespace mailsim::auth {
namespace {

struct PslCase {
  int line = 0;
  std::optional<std::string> input, expected;
};

std::string vectors_dir() {
  if (const char* env = std::getenv("MAILSIM_VECTORS")) return env;
  return MAILSIM_VECTORS_DEFAULT;
}

std::string psl_vector_path() { return vectors_dir() + "/dmarc/test_psl.txt"; }

// Lines "checkPublicSuffix('a.b.example.com', 'example.com');" — null for no value;
// commented-out lines ("//checkPublicSuffix") are skipped as the upstream runner does.
std::vector<PslCase> load_cases() {
  std::vector<PslCase> cases;
  std::ifstream in(psl_vector_path());
  if (!in) return cases;
  static const std::regex kLine(
      R"(^checkPublicSuffix\((null|'([^']*)'),\s*(null|'([^']*)')\);)");
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::smatch m;
    if (!std::regex_search(line, m, kLine)) continue;
    PslCase c;
    c.line = number;
    if (m[1] != "null") c.input = m[2].str();
    if (m[3] != "null") c.expected = m[4].str();
    cases.push_back(c);
  }
  return cases;
}

std::optional<std::string> evaluate(const PslCase& c) {
  if (!c.input) return std::nullopt;
  return PublicSuffixList::system().registrable_domain(*c.input);
}

// Vector lines that contradict the list's own algorithm (publicsuffix.org/list "Algorithm":
// an exception rule minus its leftmost label is the public suffix). The list has
// "*.kobe.jp" and "!city.kobe.jp", so city.kobe.jp's public suffix is kobe.jp and its
// registrable domain city.kobe.jp — exactly as the same file expects www.ck for "!www.ck".
// The vectors' 'kobe.jp' would make a public suffix registrable. We assert the algorithm's
// answer for these and report them apart, rather than bend the evaluator to them.
std::optional<std::string> disputed_expectation(const PslCase& c) {
  if (c.input == "city.kobe.jp" || c.input == "www.city.kobe.jp") return "city.kobe.jp";
  return std::nullopt;
}

class PslVectors : public ::testing::TestWithParam<PslCase> {};

TEST_P(PslVectors, RegistrableDomain) {
  const PslCase& c = GetParam();
  if (c.line == 0) {
    GTEST_SKIP() << "PSL conformance vectors not found at " << psl_vector_path()
                 << " (set MAILSIM_VECTORS to the vectors folder)";
  }
  if (auto algorithm = disputed_expectation(c)) {
    EXPECT_EQ(evaluate(c), algorithm)
        << "test_psl.txt line " << c.line << " (disputed vector, see disputed_expectation)";
    return;
  }
  EXPECT_EQ(evaluate(c), c.expected)
      << "test_psl.txt line " << c.line << ": " << c.input.value_or("null");
}

std::vector<PslCase> cases_or_placeholder() {
  auto cases = load_cases();
  if (cases.empty()) cases.push_back(PslCase{});  // one case that skips, saying why
  return cases;
}

INSTANTIATE_TEST_SUITE_P(TestPsl, PslVectors, ::testing::ValuesIn(cases_or_placeholder()),
                         [](const ::testing::TestParamInfo<PslCase>& param_info) {
                           return "line" + std::to_string(param_info.param.line);
                         });

TEST(PslVectorsSummary, PassCount) {
  auto cases = load_cases();
  if (cases.empty()) GTEST_SKIP() << "PSL conformance vectors not found at " << psl_vector_path();
  int passed = 0, disputed = 0;
  for (const auto& c : cases) {
    if (disputed_expectation(c)) ++disputed;
    passed += evaluate(c) == c.expected ? 1 : 0;
  }
  std::printf("PSL conformance: %d/%zu vectors pass (%d disputed vectors differ by design)\n",
              passed, cases.size(), disputed);
  RecordProperty("psl_pass", passed);
  RecordProperty("psl_total", static_cast<int>(cases.size()));
  EXPECT_EQ(passed + disputed, static_cast<int>(cases.size()));
}

TEST(Psl, AlgorithmOnSmallList) {
  auto list = PublicSuffixList::parse(
      "// comment\ncom\nuk\nco.uk\n*.ck\n!www.ck\n// ===BEGIN PRIVATE DOMAINS===\n"
      "blogspot.com  trailing text ignored\n");
  EXPECT_EQ(list.rule_count(), 6u);
  EXPECT_EQ(list.public_suffix("a.b.co.uk"), "co.uk");
  EXPECT_EQ(list.registrable_domain("a.b.co.uk"), "b.co.uk");
  EXPECT_EQ(list.registrable_domain("co.uk"), std::nullopt);
  EXPECT_EQ(list.registrable_domain("x.y.ck"), "x.y.ck");
  EXPECT_EQ(list.registrable_domain("www.ck"), "www.ck");
  EXPECT_EQ(list.registrable_domain("me.blogspot.com"), "me.blogspot.com");
  // Unlisted TLD: the default rule "*".
  EXPECT_EQ(list.registrable_domain("a.b.example"), "b.example");
  EXPECT_EQ(list.registrable_domain("a..com"), std::nullopt);
  EXPECT_EQ(list.registrable_domain("mail.nodeseek.com."), "nodeseek.com");
}

TEST(Psl, LoadNamesMissingFile) {
  try {
    PublicSuffixList::load("/nonexistent/psl.dat");
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/psl.dat"), std::string::npos);
  }
}

TEST(Punycode, DecodesRfc3492Samples) {
  EXPECT_EQ(punycode_decode("85x722f"), "食狮");
  EXPECT_EQ(punycode_decode("55qx5d"), "公司");
  EXPECT_EQ(punycode_decode("mnchen-3ya"), "münchen");
  EXPECT_EQ(punycode_decode("abc-"), "abc");
  EXPECT_EQ(punycode_decode("99999999999"), std::nullopt);
  EXPECT_EQ(punycode_decode("a!b"), std::nullopt);
}

TEST(OrganizationalDomain, Rfc7489Section32) {
  EXPECT_EQ(organizational_domain("mx.nodeseek.com"), "nodeseek.com");
  EXPECT_EQ(organizational_domain("NodeSeek.com"), "nodeseek.com");
  EXPECT_EQ(organizational_domain("mail.example.co.uk"), "example.co.uk");
  // A public suffix is its own organizational domain.
  EXPECT_EQ(organizational_domain("co.uk"), "co.uk");
}

TEST(OrganizationalDomain, RepeatedAndConcurrentCallsAgreeWithTheList) {
  // Each thread remembers names it has answered; the answers must stay the list's, for
  // every spelling (case, trailing dot), on every call and thread, past the memory's bound.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"mx.nodeseek.com", "nodeseek.com"}, {"MX.NodeSeek.COM.", "nodeseek.com"},
      {"a.b.example.co.uk", "example.co.uk"}, {"co.uk", "co.uk"}, {"uk", "uk"},
      {"www.city.kobe.jp", "city.kobe.jp"}, {"", ""}};
  auto run = [&](int rounds) {
    int wrong = 0;
    for (int r = 0; r < rounds; ++r) {
      for (const auto& [name, org] : cases) wrong += organizational_domain(name) != org;
      // Names never seen before, enough of them to pass the per-thread bound.
      std::string fresh = fmt::format("h{}.example.co.uk", r);
      wrong += organizational_domain(fresh) != "example.co.uk";
    }
    return wrong;
  };
  EXPECT_EQ(run(3000), 0);
  std::vector<int> wrong(4, -1);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&, t] { wrong[t] = run(500); });
  for (auto& th : threads) th.join();
  for (int w : wrong) EXPECT_EQ(w, 0);
}

}  // namespace
}  // namespace mailsim::auth
