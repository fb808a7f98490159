// CachingResolver: an answer is kept for its TTL (capped), a negative one for its SOA's
// negative TTL (RFC 2308 §5) as the wire client reads it, failures never; the size bound
// holds; and a kept answer is the answer as it came.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "mailsim/dns/resolver.hpp"
#include "mailsim/dns/server.hpp"

namespace mailsim::dns {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The lookups that reached the resolver behind the cache.
class CountingResolver final : public Resolver {
 public:
  explicit CountingResolver(Resolver& inner) : inner_(inner) {}
  Answer query(std::string_view name, RrType type) override {
    ++count;
    return inner_.query(name, type);
  }
  std::atomic<int> count{0};

 private:
  Resolver& inner_;
};

world::World cache_world() {
  world::World w;
  w.add_zone("example.com");  // its SOA: TTL 3600, MINIMUM 300 (world::make_soa)
  w.add_zone("brief.test");
  w.replace(world::make_soa("brief.test", 120));  // TTL 120 under the same MINIMUM 300
  w.add(world::make_a("example.com", "192.0.2.1", 300));
  w.add(world::make_a("short.example.com", "192.0.2.2", 5));
  w.add(world::make_a("zero.example.com", "192.0.2.3", 0));
  w.add(world::make_cname("www.example.com", "example.com", 30));
  w.add(world::make_a("sf.example.com", "192.0.2.4"));
  w.add_fault({"sf.example.com", std::nullopt, world::DnsFaultKind::servfail});
  return w;
}

// A clock the test moves.
struct TestClock {
  Clock::time_point now = Clock::time_point{} + 1000h;
  std::function<Clock::time_point()> fn() {
    return [this] { return now; };
  }
};

TEST(CachingResolver, KeepsAnAnswerForItsTtlCappedByMaxTtl) {
  world::World w = cache_world();
  auto world_resolver = make_world_resolver(w);
  CountingResolver inner(*world_resolver);
  TestClock clock;
  CachingResolver cache(inner, {.max_ttl = 60s, .max_entries = 100, .clock = clock.fn()});

  Answer first = cache.query("example.com", RrType::A);
  ASSERT_TRUE(first.ok());
  clock.now += 59s;
  Answer again = cache.query("EXAMPLE.com.", RrType::A);  // any spelling, the same name
  EXPECT_EQ(inner.count, 1);
  EXPECT_EQ(again.records, first.records);
  EXPECT_EQ(again.records.front().ttl, 300u);  // as it came: not counted down
  clock.now += 2s;  // 61 s: past max_ttl although the record's TTL is 300
  cache.query("example.com", RrType::A);
  EXPECT_EQ(inner.count, 2);

  // A short TTL wins over max_ttl.
  cache.query("short.example.com", RrType::A);
  clock.now += 4s;
  cache.query("short.example.com", RrType::A);
  EXPECT_EQ(inner.count, 3);
  clock.now += 2s;
  cache.query("short.example.com", RrType::A);
  EXPECT_EQ(inner.count, 4);

  // TTL 0: never kept (RFC 1035 §3.2.1).
  cache.query("zero.example.com", RrType::A);
  cache.query("zero.example.com", RrType::A);
  EXPECT_EQ(inner.count, 6);

  // A CNAME chain lives as long as its shortest record (the CNAME's 30 s here).
  cache.query("www.example.com", RrType::A);
  clock.now += 29s;
  cache.query("www.example.com", RrType::A);
  EXPECT_EQ(inner.count, 7);
  clock.now += 2s;
  cache.query("www.example.com", RrType::A);
  EXPECT_EQ(inner.count, 8);

  // The type is part of the key.
  cache.query("example.com", RrType::TXT);
  EXPECT_EQ(inner.count, 9);
  EXPECT_EQ(cache.stats().misses, 9u);
  EXPECT_EQ(cache.stats().hits, 3u);
}

TEST(CachingResolver, MaxTtlZeroKeepsNothing) {
  world::World w = cache_world();
  auto world_resolver = make_world_resolver(w);
  CountingResolver inner(*world_resolver);
  CacheOptions options;
  options.max_ttl = 0s;
  CachingResolver cache(inner, options);
  for (int i = 0; i < 3; ++i) cache.query("example.com", RrType::A);
  EXPECT_EQ(inner.count, 3);
  EXPECT_EQ(cache.stats().entries, 0u);
}

// Over the wire: the client reads the negative TTL from the authority SOA (the lesser of its
// TTL and its MINIMUM), the cache keeps NXDOMAIN and NODATA that long; SERVFAIL is
// never kept; a change to the world shows once the kept answer expires.
TEST(CachingResolver, OverTheWireNegativeAnswersLiveForTheSoaMinimumFailuresNotAtAll) {
  FakeDnsServer server(cache_world());
  server.start();
  auto wire = make_wire_resolver("127.0.0.1", server.port(), 2000ms);
  CountingResolver inner(*wire);
  TestClock clock;
  CachingResolver cache(inner, {.max_ttl = 3600s, .max_entries = 100, .clock = clock.fn()});

  Answer nx = cache.query("nowhere.example.com", RrType::A);
  EXPECT_EQ(nx.status, DnsStatus::nxdomain);
  ASSERT_TRUE(nx.negative_ttl.has_value());
  EXPECT_EQ(*nx.negative_ttl, 300u);
  Answer nodata = cache.query("example.com", RrType::AAAA);
  EXPECT_EQ(nodata.status, DnsStatus::nodata);
  EXPECT_EQ(nodata.negative_ttl, std::optional<std::uint32_t>(300));
  Answer brief = cache.query("nowhere.brief.test", RrType::A);
  EXPECT_EQ(brief.status, DnsStatus::nxdomain);
  EXPECT_EQ(brief.negative_ttl, std::optional<std::uint32_t>(120));  // the SOA's own TTL
  EXPECT_EQ(inner.count, 3);
  clock.now += 121s;
  cache.query("nowhere.brief.test", RrType::A);
  EXPECT_EQ(inner.count, 4);
  clock.now -= 121s;

  // The name appears in the world; the cache still says NXDOMAIN until 300 s have passed.
  server.update([](world::World& w) { w.add(world::make_a("nowhere.example.com", "192.0.2.9")); });
  clock.now += 299s;
  EXPECT_EQ(cache.query("nowhere.example.com", RrType::A).status, DnsStatus::nxdomain);
  EXPECT_EQ(inner.count, 4);
  clock.now += 2s;
  Answer now_there = cache.query("nowhere.example.com", RrType::A);
  EXPECT_EQ(now_there.status, DnsStatus::ok);
  EXPECT_FALSE(now_there.negative_ttl.has_value());
  EXPECT_EQ(inner.count, 5);

  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(cache.query("sf.example.com", RrType::A).status, DnsStatus::servfail);
  EXPECT_EQ(inner.count, 8);
  // Outside the world: REFUSED, never kept.
  EXPECT_EQ(cache.query("gmail.test", RrType::A).status, DnsStatus::refused);
  EXPECT_EQ(cache.query("gmail.test", RrType::A).status, DnsStatus::refused);
  EXPECT_EQ(inner.count, 10);
  server.stop();
}

// "h<i>.example.com" (appended in steps: g++ 12 warns falsely (-Wrestrict) on "h" + string).
std::string host_name(int i) {
  std::string name = "h";
  name += std::to_string(i);
  name += ".example.com";
  return name;
}

TEST(CachingResolver, TheSizeBoundHolds) {
  world::World w;
  w.add_zone("example.com");
  for (int i = 0; i < 50; ++i)
    w.add(world::make_a(host_name(i), "192.0.2.1", 300));
  auto world_resolver = make_world_resolver(w);
  CountingResolver inner(*world_resolver);
  TestClock clock;
  CachingResolver cache(inner, {.max_ttl = 60s, .max_entries = 10, .clock = clock.fn()});
  for (int i = 0; i < 50; ++i) {
    cache.query(host_name(i), RrType::A);
    EXPECT_LE(cache.stats().entries, 10u);
  }
  // The newest are kept, the oldest went.
  cache.query("h49.example.com", RrType::A);
  EXPECT_EQ(inner.count, 50);
  cache.query("h0.example.com", RrType::A);
  EXPECT_EQ(inner.count, 51);
}

TEST(CachingResolver, ManyThreadsGetTheSameAnswers) {
  world::World w = cache_world();
  auto world_resolver = make_world_resolver(w);
  CountingResolver inner(*world_resolver);
  CacheOptions options;
  options.max_entries = 4;
  CachingResolver cache(inner, options);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        const char* name = i % 3 == 0 ? "example.com" : i % 3 == 1 ? "www.example.com"
                                                                   : "short.example.com";
        Answer a = cache.query(name, RrType::A);
        if (!a.ok() || a.of_type(RrType::A).empty()) ++wrong;
        if (cache.query("sf.example.com", RrType::A).status != DnsStatus::servfail) ++wrong;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_LE(cache.stats().entries, 4u);
  EXPECT_EQ(cache.stats().hits + cache.stats().misses, 16000u);
}

}  // namespace
}  // namespace mailsim::dns
