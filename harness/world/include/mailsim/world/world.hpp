// The sealed world: every zone, host and DNS fault a simulated run can see. Pure data.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mailsim/world/record.hpp"

namespace mailsim::world {

// How the fake DNS misbehaves for one name (and optionally one type).
enum class DnsFaultKind {
  servfail,  // RCODE 2: the authoritative server failed
  timeout,   // no answer at all (the server drops the query)
  truncate,  // TC=1 over UDP even when the answer fits, forcing TCP (RFC 7766)
  refused,   // RCODE 5
};
std::string_view to_string(DnsFaultKind kind);
std::optional<DnsFaultKind> dns_fault_from_string(std::string_view name);

struct DnsFault {
  std::string name;                  // canonical owner name
  std::optional<RrType> type;        // nullopt: every type at that name
  DnsFaultKind kind = DnsFaultKind::servfail;
  bool operator==(const DnsFault&) const = default;
};

// What a host is for in the story of a run.
enum class HostRole {
  sut,        // the setup under test (the guide's mail server)
  receiver,   // a provider persona's MX (gmail.com, outlook.com, …)
  sender,     // a remote sender for inbound probes
  proxy,      // a Cloudflare-like proxy: answers 80/443 only
  dns,        // the fake DNS server
  web,        // any other host (the root A record's web server, …)
};
std::string_view to_string(HostRole role);

// A machine in the world, addressed by its public ("virtual") addresses.
struct Host {
  std::string name;                    // canonical host name, e.g. "mx.nodeseek.com"
  HostRole role = HostRole::web;
  std::vector<std::string> addresses;  // virtual IPv4/IPv6, e.g. "12.34.56.78"
  std::set<std::uint16_t> open_ports;  // ports that accept connections
  std::string persona;                 // receivers: which rulebook ("gmail", …)
  // Egress policy: outbound TCP to these ports is dropped by the "hosting provider"
  // (the guide's §1 warns that many VPS providers block port 25).
  std::set<std::uint16_t> blocked_egress_ports;
  // Whether the host offers STARTTLS as a server and uses it as a client (RFC 3207).
  // `tls.off` clears it: a setup whose certificate step (guide §5) never happened.
  bool starttls = true;
  bool operator==(const Host&) const = default;
};

class World {
 public:
  // --- zones -------------------------------------------------------------
  // Declares that the world's DNS is authoritative for `apex` (adds an SOA and NS if absent).
  void add_zone(std::string_view apex);
  const std::set<std::string>& zones() const { return zones_; }
  // The most specific zone containing `name`, or nullopt (outside the world: the fake DNS
  // answers REFUSED — it never recurses).
  std::optional<std::string> zone_for(std::string_view name) const;

  // --- records -----------------------------------------------------------
  // Adds a record; its zone must exist (throws std::invalid_argument naming the name).
  void add(Record record);
  // Removes every record at name (of the given type, if any). Returns how many went.
  std::size_t remove(std::string_view name, std::optional<RrType> type = std::nullopt);
  // Removes the records at name+type and adds `record` in their place.
  void replace(Record record);
  // Records at exactly this name (and type, if given), in insertion order.
  std::vector<Record> find(std::string_view name, std::optional<RrType> type = std::nullopt) const;
  // TXT records at name whose text starts with `prefix` (case-insensitive), e.g. "v=spf1".
  std::vector<Record> find_txt(std::string_view name, std::string_view prefix) const;
  bool name_exists(std::string_view name) const;  // any record at or below name (RFC 8020)
  const std::vector<Record>& records() const { return records_; }
  // The positions in records() of the records owned by exactly `name`, which must be
  // canonical already (lowercase, no trailing dot), in insertion order; empty if none. A
  // hash lookup instead of a scan over every record: the in-process resolver asks this
  // for every query. The reference stays valid until the world is next changed.
  const std::vector<std::size_t>& record_positions(std::string_view canonical) const;
  // name_exists() for a name that is canonical already: one hash lookup.
  bool canonical_name_exists(std::string_view canonical) const;

  // --- faults ------------------------------------------------------------
  void add_fault(DnsFault fault);
  void clear_faults(std::string_view name);
  const std::vector<DnsFault>& faults() const { return faults_; }
  // The fault that applies to a query, if any (a type-specific one wins).
  std::optional<DnsFaultKind> fault_for(std::string_view name, RrType type) const;

  // --- hosts -------------------------------------------------------------
  void add_host(Host host);
  Host* host(std::string_view name);
  const Host* host(std::string_view name) const;
  const Host* host_by_address(std::string_view address) const;
  const std::vector<Host>& hosts() const { return hosts_; }
  std::vector<Host>& hosts() { return hosts_; }

  // All records as a zone file, zone by zone, stable order (for reports and diffs).
  std::string to_zone_text() const;

  bool operator==(const World&) const = default;

 private:
  // Transparent hashing so that lookups by string_view make no std::string.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using NameIndex =
      std::unordered_map<std::string, std::vector<std::size_t>, NameHash, std::equal_to<>>;
  using NameSet = std::unordered_set<std::string, NameHash, std::equal_to<>>;
  void push_record(Record record);  // appends to records_ and indexes it
  void index_record(std::size_t position);
  void rebuild_index();

  std::set<std::string> zones_;
  std::vector<Record> records_;
  // Derived from records_ alone (rebuilt by every change to it), so two worlds with equal
  // records have equal indexes and operator== keeps its meaning.
  NameIndex by_name_;      // owner name → positions in records_
  NameSet existing_names_;  // every owner name and each of its ancestors (RFC 8020)
  std::vector<DnsFault> faults_;
  std::vector<Host> hosts_;
};

}  // namespace mailsim::world
