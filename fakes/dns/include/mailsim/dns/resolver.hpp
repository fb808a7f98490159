// The Resolver interface: the only way any actor in mailsim looks up a name.
// It is injected everywhere (never global), so unit tests use the in-process resolver over
// a World and runs use the wire client that queries the FakeDnsServer.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
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

}  // namespace mailsim::dns
