// World's name index: record_positions / canonical_name_exists must agree with the records
// themselves after every kind of change (add, add_zone, remove, replace, copies).
#include "mailsim/world/world.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailsim::world {
namespace {

// What record_positions must return, computed by a scan over the records.
std::vector<std::size_t> scanned(const World& w, const std::string& name) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < w.records().size(); ++i)
    if (w.records()[i].name == name) out.push_back(i);
  return out;
}

// name_exists' definition (RFC 8020): a record at or below the name.
bool scanned_exists(const World& w, const std::string& name) {
  for (const auto& r : w.records())
    if (name_in_zone(r.name, name)) return true;
  return false;
}

void expect_index_matches(const World& w) {
  const std::vector<std::string> names = {
      "",      "com",         "example.com", "mx.example.com", "a.b.example.com",
      "b.example.com", "x.example.com", "example.org", "_dmarc.example.com", "ample.com"};
  for (const auto& n : names) {
    EXPECT_EQ(w.record_positions(n), scanned(w, n)) << n;
    EXPECT_EQ(w.canonical_name_exists(n), scanned_exists(w, n)) << n;
    EXPECT_EQ(w.name_exists(n), scanned_exists(w, n)) << n;
  }
  for (const auto& r : w.records()) {
    EXPECT_EQ(w.record_positions(r.name), scanned(w, r.name)) << r.name;
    EXPECT_TRUE(w.canonical_name_exists(r.name)) << r.name;
  }
}

TEST(WorldIndex, FollowsAddsRemovesAndReplaces) {
  World w;
  EXPECT_TRUE(w.record_positions("example.com").empty());
  EXPECT_FALSE(w.canonical_name_exists(""));
  w.add_zone("Example.COM.");
  expect_index_matches(w);
  w.add(make_a("mx.example.com", "192.0.2.1"));
  w.add(make_txt("example.com", "v=spf1 -all"));
  w.add(make_a("a.b.example.com", "192.0.2.2"));  // b.example.com: an empty non-terminal
  w.add(make_a("MX.example.com.", "192.0.2.3"));  // the same owner, written otherwise
  w.add(make_a("mx.example.com", "192.0.2.1"));   // a duplicate, not added
  expect_index_matches(w);
  EXPECT_EQ(w.record_positions("mx.example.com").size(), 2u);
  EXPECT_TRUE(w.canonical_name_exists("b.example.com"));
  EXPECT_FALSE(w.canonical_name_exists("ample.com")) << "a suffix that is not a label";

  // Removing shifts every later record: the positions must follow.
  EXPECT_EQ(w.remove("example.com", RrType::TXT), 1u);
  expect_index_matches(w);
  EXPECT_EQ(w.remove("a.b.example.com"), 1u);
  expect_index_matches(w);
  EXPECT_FALSE(w.canonical_name_exists("b.example.com"));
  EXPECT_EQ(w.remove("nothing.example.com"), 0u);
  w.replace(make_a("mx.example.com", "192.0.2.9"));
  expect_index_matches(w);
  ASSERT_EQ(w.record_positions("mx.example.com").size(), 1u);
  EXPECT_EQ(w.records()[w.record_positions("mx.example.com")[0]].value, "192.0.2.9");

  w.add_zone("example.org");
  expect_index_matches(w);
  EXPECT_TRUE(w.canonical_name_exists("example.org"));
}

TEST(WorldIndex, CopiesCarryTheirOwnIndexAndCompareByRecords) {
  World a;
  a.add_zone("example.com");
  a.add(make_a("mx.example.com", "192.0.2.1"));
  World b = a;
  EXPECT_EQ(a, b);
  b.add(make_a("x.example.com", "192.0.2.2"));
  EXPECT_NE(a, b);
  expect_index_matches(a);
  expect_index_matches(b);
  EXPECT_FALSE(a.canonical_name_exists("x.example.com"));
  EXPECT_TRUE(b.canonical_name_exists("x.example.com"));
  b.remove("x.example.com");
  EXPECT_EQ(a, b) << "equal records, equal worlds";
}

}  // namespace
}  // namespace mailsim::world
