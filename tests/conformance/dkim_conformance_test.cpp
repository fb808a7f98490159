// DKIM vectors written by others (RFC 6376/8463 examples, dkimpy, go-msgauth, Stalwart)
// run through verify_dkim, keys served by a World through the in-process resolver.
// Expected results come from vectors/dkim/rfc/EXPECTED.txt: every signature passes except
// rfc6376-A2-as-published.txt, whose body (as printed in the RFC) fails the body hash.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "mailsim/auth/dkim.hpp"
#include "mailsim/dns/resolver.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim {
namespace {

std::filesystem::path vectors_dir() {
  if (const char* env = std::getenv("MAILSIM_VECTORS"); env != nullptr && *env != '\0')
    return env;
  return MAILSIM_VECTORS_DEFAULT;
}

struct DkimVector {
  std::string file;                  // relative to vectors/dkim
  bool expect_pass = true;           // every signature passes
  std::optional<std::int64_t> now;   // fixed clock (Stalwart's 005 carries x=)
};

DkimVector vec(std::string file, bool expect_pass = true,
               std::optional<std::int64_t> now = std::nullopt) {
  return DkimVector{std::move(file), expect_pass, now};
}

void PrintTo(const DkimVector& v, std::ostream* os) { *os << v.file; }

// Reads "<owner> <TXT rdata>" lines, a blank line, then the message (LF → CRLF by parse).
struct Loaded {
  world::World world;
  auth::Message message;
};

Loaded load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::size_t split = text.find("\n\n");
  if (split == std::string::npos) throw std::runtime_error("no blank line in " + path.string());
  Loaded out;
  std::istringstream dns(text.substr(0, split));
  std::string line;
  while (std::getline(dns, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::size_t sp = line.find(' ');
    std::string owner = world::canonical_name(line.substr(0, sp));
    std::size_t dk = owner.find("._domainkey.");
    std::string zone = dk == std::string::npos ? owner : owner.substr(dk + 12);
    out.world.add_zone(zone);
    out.world.add(world::make_txt(owner, line.substr(sp + 1)));
  }
  out.message = auth::Message::parse(text.substr(split + 2));
  return out;
}

class DkimVectors : public testing::TestWithParam<DkimVector> {};

TEST_P(DkimVectors, VerifyAsExpected) {
  const DkimVector& v = GetParam();
  std::filesystem::path path = vectors_dir() / "dkim" / v.file;
  if (!std::filesystem::exists(path))
    GTEST_SKIP() << "DKIM vector not found at " << path
                 << " (set MAILSIM_VECTORS to the shared vectors folder)";
  Loaded l = load(path);
  auto resolver = dns::make_world_resolver(l.world);
  auth::DkimResult r = auth::verify_dkim(l.message, *resolver, {.now = v.now});
  ASSERT_FALSE(r.signatures.empty()) << v.file << ": no signature found — " << r.cause;
  for (const auto& s : r.signatures) {
    std::printf("%-45s d=%s s=%s %s %d bits: %s\n", v.file.c_str(), s.domain.c_str(),
                s.selector.c_str(), s.algorithm.c_str(), s.key_bits,
                std::string(auth::to_string(s.result)).c_str());
    if (v.expect_pass) {
      EXPECT_EQ(s.result, auth::Result::pass) << v.file << ": " << s.cause;
      EXPECT_TRUE(s.body_hash_ok) << v.file;
      EXPECT_GT(s.key_bits, 0) << v.file << ": key size recorded";
    } else {
      EXPECT_EQ(s.result, auth::Result::fail) << v.file << ": " << s.cause;
      EXPECT_FALSE(s.body_hash_ok) << v.file;
      EXPECT_NE(s.cause.find("body hash"), std::string::npos) << s.cause;
    }
  }
  EXPECT_EQ(r.result, v.expect_pass ? auth::Result::pass : auth::Result::fail) << r.cause;
}

std::string vector_name(const testing::TestParamInfo<DkimVector>& info) {
  std::string n;
  for (char c : info.param.file) n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(
    Conformance, DkimVectors,
    testing::Values(vec("rfc/rfc8463-A3-ed25519-and-rsa.txt"),
                    vec("rfc/gomsgauth-rfc6376-A2-simple.txt"),
                    vec("rfc/rfc6376-A2-as-published.txt", false),
                    vec("rfc/dkimpy-rfc6376-signed-simple.txt"),
                    vec("rfc/dkimpy-exim-ed25519.txt"),
                    vec("rfc/dkimpy-gmail-degenerate-folding.txt"),
                    vec("stalwart/001.txt"), vec("stalwart/002.txt"),
                    vec("stalwart/003.txt"), vec("stalwart/004.txt"),
                    vec("stalwart/005.txt", true, 1667843664),
                    vec("stalwart/006.txt")),
    vector_name);

// Without the fixed clock, Stalwart's 005 (x=1667930064) has expired: the injected clock
// is what makes it pass, and the real clock must make it fail.
TEST(DkimVectorsClock, StalwartExpiredWithoutFixedClock) {
  std::filesystem::path path = vectors_dir() / "dkim/stalwart/005.txt";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "DKIM vector not found at " << path;
  Loaded l = load(path);
  auto resolver = dns::make_world_resolver(l.world);
  auth::DkimResult r = auth::verify_dkim(l.message, *resolver);
  EXPECT_EQ(r.result, auth::Result::fail) << r.cause;
  EXPECT_NE(r.cause.find("expired"), std::string::npos) << r.cause;
}

}  // namespace
}  // namespace mailsim
