// Zone I/O: turns published DNS data into a World.
//  - BIND master files (RFC 1035 §5), parsed with ldns's own zone parser, so what loads here
//    is what a real name server would load.
//  - The OpenSPF test-suite YAML (the `zonedata` + `tests` documents kept in pyspf), each
//    document a separate World, so the SPF check can be run against the suite it did not
//    write.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mailsim/world/world.hpp"

namespace mailsim::dns {

// A zone file or suite that cannot be loaded. what() names the source and, where known,
// the line: "nodeseek.zone:12: bad A rdata 'x.y' (ldns: Syntax error, could not parse the RR)".
class ZoneError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ZoneLoadOptions {
  // Origin for relative names when the text has no $ORIGIN (canonical, "" = the root).
  std::string origin;
  // TTL for records without one when the text has no $TTL (RFC 2308 §4).
  std::uint32_t default_ttl = 3600;
};

// Parses BIND zone text into `world`. Every SOA owner becomes a zone of the world (the
// zone given by `options.origin` too, when set); records of other zones must lie inside
// one of them. TXT character-strings stay separate exactly as published. Record types the
// world model does not carry (e.g. SRV, DNSKEY) are an error naming the line — silently
// dropping them would make the world lie. `source` names the text in errors.
void load_zone_text(world::World& world, std::string_view text, const ZoneLoadOptions& options = {},
                    std::string_view source = "<zone>");
// Same, reading a file; errors name the file.
void load_zone_file(world::World& world, const std::filesystem::path& path,
                    const ZoneLoadOptions& options = {});
// Convenience: a fresh World holding one zone file.
world::World world_from_zone_file(const std::filesystem::path& path,
                                  const ZoneLoadOptions& options = {});

// ---------------------------------------------------------------------------------------
// OpenSPF test suite (rfc7208-tests.yml, rfc4408-tests.yml).

struct OpenSpfTest {
  std::string name;         // the key in `tests`, e.g. "toolonglabel"
  std::string description;  // may be empty
  std::string spec;         // e.g. "4.3/1"
  std::string helo;
  std::string host;         // the client IP address
  std::string mailfrom;     // may be "" (then the HELO identity is checked)
  std::vector<std::string> results;  // any of these is acceptable ("pass", "permerror", …)
  std::string explanation;  // expected exp= text, "" when the test does not say
};

struct OpenSpfSection {
  std::string description;  // "Initial processing", "Record lookup", …
  // The section's `zonedata`. The world has a single zone, the root, so every name is
  // inside it: a name absent from zonedata is NXDOMAIN (as in the suite's drivers), never
  // REFUSED. Mapping of the suite's conventions:
  //  - `SPF: value` → an RrType::SPF record (TXT queries never see it) and, as pyspf's
  //    driver does, also a TXT record with the same strings when the name has no TXT
  //    entry at all ("auto-magic duplication" the suite's header describes);
  //  - `TXT: NONE` → no TXT record and no duplication;
  //  - a list of strings → one record with those character-strings, in order;
  //  - `TIMEOUT` → a timeout fault for every type that has no explicit record listed
  //    before it at that name (pyspf: a query times out unless a record of its type came
  //    first), so `TXT: x` then `TIMEOUT` answers TXT and times out for everything else.
  world::World world;
  std::vector<OpenSpfTest> tests;
};

// Parses every YAML document of the suite. Errors name the source, the section and the
// zonedata entry.
std::vector<OpenSpfSection> parse_openspf_suite(std::string_view yaml_text,
                                                std::string_view source = "<suite>");
std::vector<OpenSpfSection> load_openspf_suite(const std::filesystem::path& path);

}  // namespace mailsim::dns
