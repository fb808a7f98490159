// The FakeDnsServer's brain without a socket: one DNS message in, one (or none) out.
// Kept apart from the I/O so it can be unit tested byte for byte and fuzzed (fuzz/dns).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mailsim/world/world.hpp"

namespace mailsim::dns {

enum class Transport { udp, tcp };

// Limits of the wire format and of what we accept.
inline constexpr std::size_t kDnsHeaderSize = 12;
// RFC 1035 §4.2.1: without EDNS a UDP message is at most 512 octets.
inline constexpr std::size_t kClassicUdpSize = 512;
// The most we ever put in one UDP datagram, whatever the client advertises (RFC 6891
// §6.2.5 lets the responder choose; 4096 is the conventional ceiling).
inline constexpr std::size_t kMaxUdpPayload = 4096;
// A query is one question plus at most an OPT RR; nothing legitimate comes near this.
inline constexpr std::size_t kMaxQuerySize = 4096;

// RCODEs we emit (RFC 1035 §4.1.1, RFC 6891 §6.1.3).
enum class Rcode : std::uint16_t {
  noerror = 0,
  formerr = 1,
  servfail = 2,
  nxdomain = 3,
  notimp = 4,
  refused = 5,
  badvers = 16,
};
std::string_view to_string(Rcode rcode);

struct WireResult {
  // nullopt: send nothing (the `timeout` fault, a message that is itself a response, or
  // bytes whose header cannot even be read — answering garbage would make us a reflector).
  std::optional<std::vector<std::uint8_t>> response;
  // For stats and the query log. qname is canonical ("" when the question was unreadable).
  std::string qname;
  std::uint16_t qtype = 0;
  Rcode rcode = Rcode::noerror;
  bool truncated = false;  // TC=1 was set (answer too big for UDP, or the truncate fault)
};

// Answers one query against `world`, authoritatively and without recursion:
//  - AA=1 for names inside the world's zones; the question and RD are echoed; RA=0.
//  - A name outside every zone → REFUSED (AA=0): RFC 1035 §4.1.1 RCODE 5, "refuses … for
//    policy reasons"; it is what authoritative-only servers (NSD, BIND with recursion off)
//    answer for zones they do not serve. RFC 8906 asks servers to answer rather than drop,
//    and an NXDOMAIN or a root referral would be a lie about the sealed world.
//  - CNAME chains are followed inside the world (RFC 1034 §4.3.2 step 3a), up to
//    kMaxCnameChain hops; the RCODE is that of the last name (RFC 6604 §2). A chain that
//    leaves the world or reaches a faulted name stops there with NOERROR and no SOA, so the
//    client asks for the target itself.
//  - NXDOMAIN vs NODATA (RFC 8020: empty non-terminals exist) carry the zone's SOA in the
//    authority section with TTL min(SOA TTL, SOA MINIMUM) (RFC 2308 §3).
//  - Faults from World::fault_for on the question name: servfail, refused, timeout (no
//    response at all), truncate (TC=1 with empty sections over UDP; normal over TCP).
//  - EDNS(0) (RFC 6891): a query with OPT gets OPT back; its UDP size is honoured between
//    512 and kMaxUdpPayload; no OPT means 512. EDNS version > 0 → BADVERS. Over UDP an
//    answer that does not fit is sent with TC=1 and empty sections (RFC 2181 §9) so the
//    client retries over TCP (RFC 7766 §5).
//  - Malformed queries → FORMERR when the 12-octet header is readable (ID echoed), dropped
//    otherwise. QDCOUNT ≠ 1 → FORMERR (RFC 9619). Opcodes other than QUERY → NOTIMP.
//    Zone transfers (AXFR/IXFR) → REFUSED. Never throws, never crashes on any input.
WireResult handle_wire_query(const world::World& world, std::span<const std::uint8_t> query,
                             Transport transport);

}  // namespace mailsim::dns
