// Internal: the FakeDnsServer's response cache. A DNS answer from the world is a pure
// function of (the world, the query's bytes minus its ID, the transport), so the server
// can answer a repeated question by copying the bytes it sent last time and patching:
//  - the 2-octet ID (RFC 1035 §4.1.1: "copied into the corresponding reply"), and
//  - every place the reply echoes the question name as it was asked. DNS names compare
//    case-insensitively (RFC 4343 §3) but a responder must echo the question octet for
//    octet, and resolvers that randomise case (draft-vixie-dnsext-dns0x20) check it — so
//    the key lowercases the name and the entry records where the spelling goes.
// Where the echo sits is found, not assumed: on a miss the reply is computed twice, once
// for the query as asked and once with the case of every letter of the name flipped; the
// octets that differ are exactly the echoes. If the two replies differ anywhere else (a
// name compressor that looks at case, say), the entry only serves that exact spelling.
//
// One cache belongs to one thread (a UDP worker); no locks. The world's generation (bumped
// by FakeDnsServer::update()) empties it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "mailsim/dns/wire.hpp"

namespace mailsim::dns::detail {

// Bounds: the cache never holds more than this (a flood of distinct names empties it).
inline constexpr std::size_t kCacheMaxEntries = 4096;
// Queries longer than this are answered on the slow path and not cached (an ordinary
// query with an OPT RR is ~40–60 octets).
inline constexpr std::size_t kCacheMaxQuerySize = 512;

// What the cache needs to know about a query, read from the raw bytes without ldns.
struct QueryShape {
  std::size_t name_length = 0;  // octets of the question name at offset 12, root label included
};

// Parses just enough of `query` to key it: the header and an uncompressed question name.
// nullopt for anything else (too short/long, QR=1, a pointer or bad label in the name) —
// those take the slow path, which answers or drops them exactly as before.
std::optional<QueryShape> shape_of(std::span<const std::uint8_t> query);

// The cache key: transport, then every octet after the ID with the name lowercased.
void make_key(std::span<const std::uint8_t> query, const QueryShape& shape, Transport transport,
              std::string& key);

// The query with the case of every ASCII letter of the question name flipped.
std::vector<std::uint8_t> flip_name_case(std::span<const std::uint8_t> query,
                                         const QueryShape& shape);

struct CachedAnswer {
  std::optional<std::vector<std::uint8_t>> response;  // nullopt: drop (the timeout fault)
  std::vector<std::uint16_t> name_offsets;  // where the reply echoes the question name
  bool any_spelling = true;  // false: serve only to `spelling`
  std::string spelling;      // the name's octets as first asked
  // The WireResult fields the stats and the query log need.
  std::string qname;
  std::uint16_t qtype = 0;
  Rcode rcode = Rcode::noerror;
  bool truncated = false;
};

// Builds an entry from the reply to the query as asked and the reply to the same query
// with the name's case flipped (both computed against the same world).
CachedAnswer make_entry(std::span<const std::uint8_t> query, const QueryShape& shape,
                        const WireResult& asked, const WireResult& flipped);

class ResponseCache {
 public:
  // Empties the cache when the world has changed since it was filled.
  void sync(std::uint64_t generation) {
    if (generation != generation_) {
      entries_.clear();
      generation_ = generation;
    }
  }
  std::uint64_t generation() const { return generation_; }

  // The entry for this key if it can answer `query` (same spelling or any spelling).
  const CachedAnswer* find(const std::string& key, std::span<const std::uint8_t> query,
                           const QueryShape& shape) const;
  // Stores an entry computed at `generation` (ignored if the world moved on since).
  void store(std::string key, CachedAnswer entry, std::uint64_t generation);

  std::size_t size() const { return entries_.size(); }

 private:
  std::unordered_map<std::string, CachedAnswer> entries_;
  std::uint64_t generation_ = 0;
};

// Writes the cached reply for `query` into `out`: the stored octets, the query's ID, and
// the query's spelling of the name at every echo. False when the entry drops the query.
bool render(const CachedAnswer& entry, std::span<const std::uint8_t> query,
            const QueryShape& shape, std::vector<std::uint8_t>& out);

}  // namespace mailsim::dns::detail
