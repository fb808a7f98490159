#include "mailsim/world/world.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <fmt/core.h>

namespace mailsim::world {
namespace {

// True when canonical_name(name) == name: no trailing dot and no ASCII capital. Lookups
// come canonical almost always (the resolver canonicalises once per query), so the
// per-call copy canonical_name would make is skipped for them.
bool is_canonical(std::string_view name) {
  if (!name.empty() && name.back() == '.') return false;
  return std::none_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// Calls f with the canonical form of `name`, copying only when it is not canonical yet.
template <class F>
decltype(auto) with_canonical(std::string_view name, F&& f) {
  if (is_canonical(name)) return f(name);
  const std::string n = canonical_name(name);
  return f(std::string_view(n));
}

}  // namespace

std::string_view to_string(DnsFaultKind kind) {
  switch (kind) {
    case DnsFaultKind::servfail: return "servfail";
    case DnsFaultKind::timeout: return "timeout";
    case DnsFaultKind::truncate: return "tc";
    case DnsFaultKind::refused: return "refused";
  }
  return "?";
}

std::optional<DnsFaultKind> dns_fault_from_string(std::string_view name) {
  if (name == "servfail") return DnsFaultKind::servfail;
  if (name == "timeout") return DnsFaultKind::timeout;
  if (name == "tc" || name == "truncate") return DnsFaultKind::truncate;
  if (name == "refused") return DnsFaultKind::refused;
  return std::nullopt;
}

std::string_view to_string(HostRole role) {
  switch (role) {
    case HostRole::sut: return "sut";
    case HostRole::receiver: return "receiver";
    case HostRole::sender: return "sender";
    case HostRole::proxy: return "proxy";
    case HostRole::dns: return "dns";
    case HostRole::web: return "web";
  }
  return "?";
}

void World::add_zone(std::string_view apex) {
  std::string z = canonical_name(apex);
  if (!zones_.insert(z).second) return;
  if (find(z, RrType::SOA).empty()) push_record(make_soa(z));
  if (find(z, RrType::NS).empty()) push_record(make_ns(z, "ns.mailsim.test"));
}

std::optional<std::string> World::zone_for(std::string_view name) const {
  const std::string* best = with_canonical(name, [&](std::string_view n) {
    const std::string* found = nullptr;
    for (const auto& z : zones_)
      if (name_in_zone(n, z) && (!found || z.size() > found->size())) found = &z;
    return found;
  });
  if (best == nullptr) return std::nullopt;
  return *best;
}

void World::add(Record record) {
  record.name = canonical_name(record.name);
  if (!zone_for(record.name))
    throw std::invalid_argument(fmt::format(
        "{} {} is outside every zone of the world; add the zone first", record.name,
        to_string(record.type)));
  if (std::find(records_.begin(), records_.end(), record) == records_.end())
    push_record(std::move(record));
}

void World::push_record(Record record) {
  records_.push_back(std::move(record));
  index_record(records_.size() - 1);
}

void World::index_record(std::size_t position) {
  const std::string& name = records_[position].name;
  by_name_[name].push_back(position);
  // The name and every ancestor exist (RFC 8020: a name with records below it is an
  // empty non-terminal, not NXDOMAIN); "" is the root, which contains every name.
  std::string_view n = name;
  while (true) {
    if (!existing_names_.insert(std::string(n)).second) break;  // ancestors are in already
    if (n.empty()) break;
    std::size_t dot = n.find('.');
    n = dot == std::string_view::npos ? std::string_view() : n.substr(dot + 1);
  }
}

void World::rebuild_index() {
  by_name_.clear();
  existing_names_.clear();
  for (std::size_t i = 0; i < records_.size(); ++i) index_record(i);
}

const std::vector<std::size_t>& World::record_positions(std::string_view canonical) const {
  static const std::vector<std::size_t> kNone;
  auto it = by_name_.find(canonical);
  return it == by_name_.end() ? kNone : it->second;
}

bool World::canonical_name_exists(std::string_view canonical) const {
  return existing_names_.find(canonical) != existing_names_.end();
}

std::size_t World::remove(std::string_view name, std::optional<RrType> type) {
  std::string n = canonical_name(name);
  std::size_t removed = std::erase_if(records_, [&](const Record& r) {
    return r.name == n && (!type || r.type == *type);
  });
  if (removed > 0) rebuild_index();  // positions after the removed records moved
  return removed;
}

void World::replace(Record record) {
  remove(record.name, record.type);
  add(std::move(record));
}

std::vector<Record> World::find(std::string_view name, std::optional<RrType> type) const {
  return with_canonical(name, [&](std::string_view n) {
    std::vector<Record> out;
    for (std::size_t i : record_positions(n))
      if (!type || records_[i].type == *type) out.push_back(records_[i]);
    return out;
  });
}

std::vector<Record> World::find_txt(std::string_view name, std::string_view prefix) const {
  std::vector<Record> out;
  for (auto& r : find(name, RrType::TXT)) {
    std::string t = r.text();
    if (t.size() >= prefix.size() &&
        std::equal(prefix.begin(), prefix.end(), t.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        }))
      out.push_back(std::move(r));
  }
  return out;
}

bool World::name_exists(std::string_view name) const {
  return with_canonical(name, [&](std::string_view n) { return canonical_name_exists(n); });
}

void World::add_fault(DnsFault fault) {
  fault.name = canonical_name(fault.name);
  faults_.push_back(std::move(fault));
}

void World::clear_faults(std::string_view name) {
  std::string n = canonical_name(name);
  std::erase_if(faults_, [&](const DnsFault& f) { return f.name == n; });
}

std::optional<DnsFaultKind> World::fault_for(std::string_view name, RrType type) const {
  if (faults_.empty()) return std::nullopt;  // the common case: no copy of the name
  return with_canonical(name, [&](std::string_view n) -> std::optional<DnsFaultKind> {
    std::optional<DnsFaultKind> any_type;
    for (const auto& f : faults_) {
      if (f.name != n) continue;
      if (f.type && *f.type == type) return f.kind;
      if (!f.type) any_type = f.kind;
    }
    return any_type;
  });
}

void World::add_host(Host host) {
  host.name = canonical_name(host.name);
  if (this->host(host.name))
    throw std::invalid_argument(fmt::format("host {} is already in the world", host.name));
  hosts_.push_back(std::move(host));
}

Host* World::host(std::string_view name) {
  std::string n = canonical_name(name);
  for (auto& h : hosts_)
    if (h.name == n) return &h;
  return nullptr;
}

const Host* World::host(std::string_view name) const {
  return const_cast<World*>(this)->host(name);
}

const Host* World::host_by_address(std::string_view address) const {
  for (const auto& h : hosts_)
    if (std::find(h.addresses.begin(), h.addresses.end(), address) != h.addresses.end())
      return &h;
  return nullptr;
}

std::string World::to_zone_text() const {
  std::string out;
  for (const auto& z : zones_) {
    out += fmt::format("$ORIGIN {}.\n", z);
    std::vector<const Record*> in_zone;
    for (const auto& r : records_)
      if (zone_for(r.name) == z) in_zone.push_back(&r);
    std::stable_sort(in_zone.begin(), in_zone.end(), [](const Record* a, const Record* b) {
      return a->name < b->name;
    });
    for (const auto* r : in_zone) out += r->to_zone_line() + "\n";
    out += "\n";
  }
  return out;
}

}  // namespace mailsim::world
