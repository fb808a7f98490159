#include "server_cache.hpp"

#include <algorithm>
#include <cstring>

namespace mailsim::dns::detail {

namespace {

constexpr std::size_t kMaxNameOctets = 255;  // RFC 1035 §3.1

bool is_upper(std::uint8_t c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(std::uint8_t c) { return c >= 'a' && c <= 'z'; }

}  // namespace

std::optional<QueryShape> shape_of(std::span<const std::uint8_t> query) {
  if (query.size() < kDnsHeaderSize || query.size() > kCacheMaxQuerySize) return std::nullopt;
  if (query[2] & 0x80) return std::nullopt;  // a response: the slow path drops it
  std::size_t at = kDnsHeaderSize;
  for (;;) {
    if (at >= query.size()) return std::nullopt;
    std::uint8_t label = query[at];
    if (label == 0) break;
    if (label & 0xc0) return std::nullopt;  // a compression pointer or an extended label
    at += 1 + std::size_t{label};
    if (at - kDnsHeaderSize > kMaxNameOctets) return std::nullopt;
  }
  ++at;  // the root label
  if (at - kDnsHeaderSize > kMaxNameOctets) return std::nullopt;
  if (at + 4 > query.size()) return std::nullopt;  // QTYPE and QCLASS must be there
  return QueryShape{at - kDnsHeaderSize};
}

void make_key(std::span<const std::uint8_t> query, const QueryShape& shape, Transport transport,
              std::string& key) {
  key.assign(1, transport == Transport::udp ? 'u' : 't');
  key.append(reinterpret_cast<const char*>(query.data()) + 2, query.size() - 2);
  // Lowercase the name (RFC 4343 §3: ASCII letters only). Length octets are ≤ 63, below
  // 'A', so they are never touched. Key offset = query offset - 2 + 1.
  for (std::size_t i = 0; i < shape.name_length; ++i) {
    char& c = key[kDnsHeaderSize - 1 + i];
    if (is_upper(static_cast<std::uint8_t>(c))) c = static_cast<char>(c + ('a' - 'A'));
  }
}

std::vector<std::uint8_t> flip_name_case(std::span<const std::uint8_t> query,
                                         const QueryShape& shape) {
  std::vector<std::uint8_t> out(query.begin(), query.end());
  for (std::size_t i = kDnsHeaderSize; i < kDnsHeaderSize + shape.name_length; ++i) {
    if (is_upper(out[i])) out[i] = static_cast<std::uint8_t>(out[i] + ('a' - 'A'));
    else if (is_lower(out[i])) out[i] = static_cast<std::uint8_t>(out[i] - ('a' - 'A'));
  }
  return out;
}

bool render(const CachedAnswer& entry, std::span<const std::uint8_t> query,
            const QueryShape& shape, std::vector<std::uint8_t>& out) {
  if (!entry.response) return false;
  const auto& stored = *entry.response;
  out.assign(stored.begin(), stored.end());
  if (out.size() >= 2) {
    out[0] = query[0];
    out[1] = query[1];
  }
  const std::uint8_t* name = query.data() + kDnsHeaderSize;
  for (std::uint16_t offset : entry.name_offsets)
    std::memcpy(out.data() + offset, name, shape.name_length);
  return true;
}

CachedAnswer make_entry(std::span<const std::uint8_t> query, const QueryShape& shape,
                        const WireResult& asked, const WireResult& flipped) {
  CachedAnswer entry;
  entry.response = asked.response;
  entry.qname = asked.qname;
  entry.qtype = asked.qtype;
  entry.rcode = asked.rcode;
  entry.truncated = asked.truncated;
  const std::uint8_t* name = query.data() + kDnsHeaderSize;
  const std::size_t length = shape.name_length;
  entry.spelling.assign(reinterpret_cast<const char*>(name), length);

  bool same_outcome = asked.response.has_value() == flipped.response.has_value() &&
                      asked.rcode == flipped.rcode && asked.truncated == flipped.truncated &&
                      asked.qname == flipped.qname && asked.qtype == flipped.qtype;
  if (!same_outcome) {
    entry.any_spelling = false;
    return entry;
  }
  if (!asked.response) return entry;  // dropped whatever the spelling
  const auto& a = *asked.response;
  const auto& f = *flipped.response;
  if (a.size() != f.size() || a.size() > 0xffff) {
    entry.any_spelling = false;
    return entry;
  }
  std::vector<std::uint8_t> flipped_query = flip_name_case(query, shape);
  const std::uint8_t* flipped_name = flipped_query.data() + kDnsHeaderSize;
  // An echo is a run where the reply carries the question's spelling in both replies.
  for (std::size_t at = kDnsHeaderSize; at + length <= a.size(); ++at) {
    if (std::memcmp(a.data() + at, name, length) == 0 &&
        std::memcmp(f.data() + at, flipped_name, length) == 0)
      entry.name_offsets.push_back(static_cast<std::uint16_t>(at));
  }
  // Proof rather than hope: patching the first reply with the flipped spelling must give
  // the second reply octet for octet (the IDs are the same query's).
  std::vector<std::uint8_t> check;
  render(entry, flipped_query, shape, check);
  if (check != f) {
    entry.any_spelling = false;
    entry.name_offsets.clear();
  }
  return entry;
}

const CachedAnswer* ResponseCache::find(const std::string& key,
                                        std::span<const std::uint8_t> query,
                                        const QueryShape& shape) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  const CachedAnswer& entry = it->second;
  if (!entry.any_spelling &&
      std::memcmp(entry.spelling.data(), query.data() + kDnsHeaderSize, shape.name_length) != 0)
    return nullptr;
  return &entry;
}

void ResponseCache::store(std::string key, CachedAnswer entry, std::uint64_t generation) {
  if (generation < generation_) return;  // computed against a world already replaced
  sync(generation);
  if (entries_.size() >= kCacheMaxEntries) entries_.clear();
  entries_.insert_or_assign(std::move(key), std::move(entry));
}

}  // namespace mailsim::dns::detail
