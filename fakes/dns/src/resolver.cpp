// The in-process resolver: the FakeDnsServer's semantics without a socket, for unit tests
// and for checks that run inside the harness process.
#include "mailsim/dns/resolver.hpp"

#include <fmt/core.h>

#include <algorithm>

#include "mailsim/world/world.hpp"

namespace mailsim::dns {

std::string_view to_string(DnsStatus status) {
  switch (status) {
    case DnsStatus::ok: return "NOERROR";
    case DnsStatus::nxdomain: return "NXDOMAIN";
    case DnsStatus::nodata: return "NODATA";
    case DnsStatus::servfail: return "SERVFAIL";
    case DnsStatus::refused: return "REFUSED";
    case DnsStatus::timeout: return "TIMEOUT";
    case DnsStatus::formerr: return "FORMERR";
  }
  return "?";
}

std::vector<Record> Answer::of_type(RrType type) const {
  std::vector<Record> out;
  for (const auto& r : records)
    if (r.type == type) out.push_back(r);
  return out;
}

std::string Answer::summary() const {
  std::string out;
  append_summary(out);
  return out;
}

void Answer::append_summary(std::string& out) const {
  // The CNAME chain is shown even when the lookup failed after it: "CNAME a.example.org.,
  // NXDOMAIN" tells the reader where the chain broke.
  const std::size_t start = out.size();
  for (const auto& r : records) {
    if (out.size() != start) out += ", ";
    out.append(world::to_string(r.type)).append(" ");
    r.append_rdata_presentation(out);
  }
  if (status != DnsStatus::ok) {
    if (out.size() != start) out += ", ";
    out += to_string(status);
  }
  if (truncated_udp) out += " (TC over UDP, retried over TCP)";
}

namespace {

class WorldResolver final : public Resolver {
 public:
  explicit WorldResolver(const world::World& world) : world_(world) {}

  Answer query(std::string_view name, RrType type) override {
    return resolve_in_world(world_, name, type);
  }

 private:
  const world::World& world_;
};

}  // namespace

Answer resolve_in_world(const world::World& world, std::string_view name, RrType type) {
  Answer answer;
  std::string current = world::canonical_name(name);
  // A bounded chase: RFC 1034 §3.6.2 says chains should be rare and loops must be caught;
  // resolvers give up after a handful of hops and report SERVFAIL.
  for (int hop = 0; hop <= kMaxCnameChain; ++hop) {
    // zone_for(current).has_value(), without copying the zone's name.
    const auto& zones = world.zones();
    if (std::none_of(zones.begin(), zones.end(),
                     [&](const std::string& z) { return world::name_in_zone(current, z); })) {
      // Outside the sealed world: the fake DNS is authoritative-only and never recurses.
      answer.status = DnsStatus::refused;
      return answer;
    }
    if (auto fault = world.fault_for(current, type)) {
      switch (*fault) {
        case world::DnsFaultKind::servfail: answer.status = DnsStatus::servfail; return answer;
        case world::DnsFaultKind::timeout: answer.status = DnsStatus::timeout; return answer;
        case world::DnsFaultKind::refused: answer.status = DnsStatus::refused; return answer;
        case world::DnsFaultKind::truncate: break;  // only means something over UDP
      }
    }
    // The world's index gives the records owned by `current` (canonical already) without
    // a scan: the ones of the type, and the first CNAME. Only a name owning none needs the
    // second lookup, for records below it.
    std::vector<Record> found;
    const Record* alias = nullptr;
    const auto& positions = world.record_positions(current);
    bool exists = !positions.empty();
    for (std::size_t i : positions) {
      const Record& r = world.records()[i];
      if (r.type == type) found.push_back(r);
      else if (alias == nullptr && r.type == RrType::CNAME) alias = &r;
    }
    if (!found.empty()) {
      if (answer.records.empty()) answer.records = std::move(found);
      else for (auto& r : found) answer.records.push_back(std::move(r));
      answer.status = DnsStatus::ok;
      return answer;
    }
    // RFC 1034 §4.3.2 step 3a: a CNAME at the name restarts the lookup at its target
    // (except for a CNAME query, answered above).
    if (alias == nullptr) {
      // RFC 8020: a name with records below it (an empty non-terminal) exists: NODATA.
      if (!exists) exists = world.canonical_name_exists(current);
      answer.status = exists ? DnsStatus::nodata : DnsStatus::nxdomain;
      return answer;
    }
    answer.records.push_back(*alias);
    // Every World lookup canonicalises its name; doing it here once keeps the zone test
    // above exact for a CNAME target written in another case.
    current = world::canonical_name(alias->value);
  }
  answer.status = DnsStatus::servfail;  // a CNAME loop or an over-long chain
  return answer;
}

std::unique_ptr<Resolver> make_world_resolver(const world::World& world) {
  return std::make_unique<WorldResolver>(world);
}

}  // namespace mailsim::dns
