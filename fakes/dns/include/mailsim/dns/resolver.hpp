// The Resolver interface: the only way any actor in mailsim looks up a name.
// It is injected everywhere (never global), so unit tests use the in-process resolver over
// a World and runs use the wire client that queries the FakeDnsServer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailsim/world/record.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim::dns {

using world::Record;
using world::RrType;

// What a lookup came to. NXDOMAIN vs NODATA matters: RFC 7208 §4.6.4 counts both as
// "void lookups"; RFC 2308 defines them.
enum class DnsStatus {
  ok,        // at least one record of the type
  nxdomain,  // RCODE 3: the name does not exist
  nodata,    // NOERROR, no record of that type
  servfail,  // RCODE 2
  refused,   // RCODE 5 (a name outside the sealed world)
  timeout,   // no answer within the deadline
  formerr,   // malformed answer or query
};
std::string_view to_string(DnsStatus status);

struct Answer {
  DnsStatus status = DnsStatus::nxdomain;
  // Records of the queried type, in the order served. When the name is an alias, the CNAME
  // chain comes first (records of type CNAME), then the target's records.
  std::vector<Record> records;
  bool truncated_udp = false;  // the UDP answer had TC=1 and TCP was used (wire client)
  // How long a negative answer (NXDOMAIN, NODATA) may be kept: the lesser of the authority
  // SOA's TTL and its MINIMUM field (RFC 2308 §5). Set by the wire client when the server
  // sent that SOA; unset otherwise (the in-process resolver, a positive answer).
  std::optional<std::uint32_t> negative_ttl;
  bool ok() const { return status == DnsStatus::ok; }
  // True for the statuses RFC 7208 §2.6.6 / RFC 7489 §6.6.3 call temporary.
  bool temporary_error() const {
    return status == DnsStatus::servfail || status == DnsStatus::timeout;
  }
  // Only the records of the queried type (skips the CNAME chain).
  std::vector<Record> of_type(RrType type) const;
  // "NXDOMAIN", "A 12.34.56.78", "TXT \"v=spf1 a mx -all\"" — one line for traces.
  std::string summary() const;
  // Appends summary()'s text to `out` (tracers build their line in one buffer).
  void append_summary(std::string& out) const;
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  // Synchronous: checks are pure functions over a resolver, and libspf2/libopendkim call
  // their DNS layer synchronously. Thread-safe in every implementation.
  virtual Answer query(std::string_view name, RrType type) = 0;
};

// Resolves against a World in-process, with the same semantics as the FakeDnsServer
// (faults included): timeouts are immediate, REFUSED outside the world's zones.
std::unique_ptr<Resolver> make_world_resolver(const world::World& world);

// How many CNAME hops a lookup follows before it gives up with SERVFAIL (a loop or an
// absurd chain; RFC 1034 §3.6.2 asks resolvers to catch loops).
inline constexpr int kMaxCnameChain = 8;

// The lookup make_world_resolver's resolvers do, as a plain function (the caller keeps the
// world stable for the call; the FakeDnsServer holds its lock around it).
Answer resolve_in_world(const world::World& world, std::string_view name, RrType type);

// A Resolver that queries a DNS server over the wire (the FakeDnsServer): UDP first, TCP
// when the answer comes back with TC=1 (RFC 7766 §5; sets Answer::truncated_udp). RCODEs
// map to DnsStatus; no answer within `timeout` (per attempt) → DnsStatus::timeout. CNAME
// chains the server could not finish are followed by re-querying (bounded by
// kMaxCnameChain). Thread-safe: each query uses its own sockets. `address` must be a
// loopback address (127.0.0.0/8 or ::1): the world is sealed, so anything else throws
// std::invalid_argument.
std::unique_ptr<Resolver> make_wire_resolver(std::string address, std::uint16_t port,
                                             std::chrono::milliseconds timeout =
                                                 std::chrono::milliseconds(2000));
// The same wire resolver for an actor running inside a sealed network namespace of the
// netns fabric (no route out of the world), where the fake DNS listens on the world's own
// address rather than loopback. Its sockets are created per query on the calling thread,
// so call query() only from threads inside such a namespace.
std::unique_ptr<Resolver> make_namespace_wire_resolver(std::string address, std::uint16_t port,
                                                       std::chrono::milliseconds timeout =
                                                           std::chrono::milliseconds(2000));

// A caching layer in front of another resolver, as every real receiving MX has one (a
// provider's MX does not ask the authoritative server again for each message). Keeps an
// answer for its TTL — the least TTL of its records (a CNAME chain included; RFC 2181 §5.2,
// RFC 1035 §3.2.1: TTL 0 is not kept) or, for NXDOMAIN/NODATA, Answer::negative_ttl
// (RFC 2308 §5; negative answers without it are not kept) — and never longer than
// `max_ttl`. Failures (SERVFAIL, timeout, REFUSED, FORMERR) are never kept, so a fault in
// the world is seen by every lookup. A kept answer is returned exactly as it came (TTLs are
// not counted down), so traces built on it read the same. Thread-safe.
struct CacheOptions {
  std::chrono::seconds max_ttl{60};  // 0: keep nothing (every lookup goes to `inner`)
  std::size_t max_entries = 10000;   // past it, expired entries go, then the oldest
  // The clock TTLs count on (injected in tests); default std::chrono::steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

class CachingResolver final : public Resolver {
 public:
  // `inner` must outlive this resolver.
  explicit CachingResolver(Resolver& inner, CacheOptions options = {});
  ~CachingResolver() override;
  Answer query(std::string_view name, RrType type) override;

  struct Stats {
    std::uint64_t hits = 0, misses = 0;  // misses: lookups passed to `inner`
    std::size_t entries = 0;
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailsim::dns
