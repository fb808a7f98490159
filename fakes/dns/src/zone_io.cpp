#include "mailsim/dns/zone_io.hpp"

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/core.h>
#include <yaml-cpp/yaml.h>

#include "ldns_util.hpp"

namespace mailsim::dns {

using world::Record;
using world::RrType;
using world::World;

namespace {

struct FileClose {
  void operator()(FILE* f) const { std::fclose(f); }
};

}  // namespace

void load_zone_text(World& world, std::string_view text, const ZoneLoadOptions& options,
                    std::string_view source) {
  // ldns reads zone files from a FILE*; fmemopen gives it the text without a temp file.
  std::string buffer(text);
  if (buffer.empty() || buffer.back() != '\n') buffer += '\n';
  std::unique_ptr<FILE, FileClose> fp(fmemopen(buffer.data(), buffer.size(), "r"));
  if (!fp) throw ZoneError(fmt::format("{}: cannot open the zone text for reading", source));

  // Relative names without $ORIGIN are relative to options.origin (the root by default).
  ldns_rdf* origin = nullptr;
  std::string origin_text = world::canonical_name(options.origin);
  origin_text = origin_text.empty() ? "." : origin_text + ".";
  if (ldns_str2rdf_dname(&origin, origin_text.c_str()) != LDNS_STATUS_OK)
    throw ZoneError(fmt::format("{}: bad origin '{}'", source, options.origin));
  ldns_rdf* prev = nullptr;
  auto free_rdfs = [&] {
    if (origin) ldns_rdf_deep_free(origin);
    if (prev) ldns_rdf_deep_free(prev);
    origin = prev = nullptr;
  };
  std::uint32_t default_ttl = options.default_ttl;
  int line_nr = 0;

  // Records with the line they came from: zones are declared first (every SOA owner), then
  // the records are added, so a record may precede its zone's SOA in the file.
  std::vector<std::pair<Record, int>> records;
  std::vector<std::string> zones;
  if (!options.origin.empty()) zones.push_back(world::canonical_name(options.origin));
  while (!std::feof(fp.get())) {
    ldns_rr* raw = nullptr;
    int before = line_nr;
    ldns_status status =
        ldns_rr_new_frm_fp_l(&raw, fp.get(), &default_ttl, &origin, &prev, &line_nr);
    detail::RrPtr rr(raw);
    if (status == LDNS_STATUS_SYNTAX_EMPTY || status == LDNS_STATUS_SYNTAX_TTL ||
        status == LDNS_STATUS_SYNTAX_ORIGIN)
      continue;
    if (status == LDNS_STATUS_SYNTAX_INCLUDE) {
      free_rdfs();
      throw ZoneError(fmt::format("{}:{}: $INCLUDE is not supported (a world is one file)",
                                  source, line_nr));
    }
    if (status != LDNS_STATUS_OK || !rr) {
      // End of input shows up as an error with nothing consumed on the last line.
      if (std::feof(fp.get()) && line_nr == before) break;
      free_rdfs();
      throw ZoneError(
          fmt::format("{}:{}: {}", source, line_nr, ldns_get_errorstr_by_id(status)));
    }
    std::string error;
    auto record = detail::record_from_rr(rr.get(), &error);
    if (!record) {
      free_rdfs();
      throw ZoneError(fmt::format("{}:{}: {}", source, line_nr, error));
    }
    if (record->type == RrType::SOA) zones.push_back(record->name);
    records.emplace_back(std::move(*record), line_nr);
  }
  free_rdfs();
  if (zones.empty())
    throw ZoneError(fmt::format(
        "{}: no SOA record and no origin given: cannot tell which zone this is", source));

  for (const auto& z : zones) {
    // The file's own SOA/NS replace the defaults add_zone would invent.
    bool had = world.zones().count(z) > 0;
    world.add_zone(z);
    if (!had) {
      bool has_soa = false, has_ns = false;
      for (const auto& [r, line] : records) {
        has_soa |= r.name == z && r.type == RrType::SOA;
        has_ns |= r.name == z && r.type == RrType::NS;
      }
      if (has_soa) world.remove(z, RrType::SOA);
      if (has_ns) world.remove(z, RrType::NS);
    }
  }
  for (auto& [r, line] : records) {
    try {
      world.add(std::move(r));
    } catch (const std::invalid_argument& e) {
      throw ZoneError(fmt::format("{}:{}: {}", source, line, e.what()));
    }
  }
}

void load_zone_file(World& world, const std::filesystem::path& path,
                    const ZoneLoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ZoneError(fmt::format("{}: cannot open zone file", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  load_zone_text(world, text.str(), options, path.string());
}

World world_from_zone_file(const std::filesystem::path& path, const ZoneLoadOptions& options) {
  World world;
  load_zone_file(world, path, options);
  return world;
}

// --------------------------------------------------------------------------------------
// OpenSPF suite

namespace {

std::string scalar(const YAML::Node& node) {
  if (!node || node.IsNull()) return {};
  return node.as<std::string>();
}

std::vector<std::string> strings_of(const YAML::Node& value) {
  std::vector<std::string> out;
  if (value.IsSequence()) {
    for (const auto& s : value) out.push_back(scalar(s));
  } else {
    out.push_back(scalar(value));
  }
  return out;
}

Record make_record(const std::string& owner, RrType type, const YAML::Node& value) {
  Record r;
  r.name = owner;
  r.type = type;
  switch (type) {
    case RrType::TXT:
    case RrType::SPF:
      r.strings = strings_of(value);
      break;
    case RrType::MX:
      if (!value.IsSequence() || value.size() != 2)
        throw std::invalid_argument("MX wants [preference, exchange]");
      r.preference = static_cast<std::uint16_t>(value[0].as<unsigned>());
      r.value = world::canonical_name(scalar(value[1]));
      break;
    case RrType::CNAME:
    case RrType::PTR:
    case RrType::NS:
      r.value = world::canonical_name(scalar(value));
      break;
    case RrType::AAAA: {
      r.value = scalar(value);
      for (auto& c : r.value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      break;
    }
    default:
      r.value = scalar(value);
  }
  return r;
}

void load_zone_entry(World& world, const std::string& owner, const YAML::Node& list) {
  {
    std::set<RrType> listed;     // types with an explicit record before TIMEOUT
    bool has_txt_entry = false;  // any TXT entry, including TXT: NONE
    bool timeout = false;
    std::vector<Record> spf_records;
    for (const auto& item : list) {
      if (item.IsScalar()) {
        if (scalar(item) != "TIMEOUT")
          throw std::invalid_argument(fmt::format("unknown entry '{}'", scalar(item)));
        if (!timeout) {
          timeout = true;
          for (auto t : world::all_rr_types())
            if (!listed.count(t))
              world.add_fault({owner, t, world::DnsFaultKind::timeout});
        }
        continue;
      }
      if (!item.IsMap() || item.size() != 1)
        throw std::invalid_argument("each record must be a one-key map {TYPE: value}");
      auto kv = *item.begin();
      std::string type_name = scalar(kv.first);
      auto type = world::rr_type_from_string(type_name);
      if (!type) throw std::invalid_argument(fmt::format("unknown record type '{}'", type_name));
      if (*type == RrType::TXT) has_txt_entry = true;
      if (kv.second.IsScalar() && scalar(kv.second) == "NONE") continue;
      // pyspf's driver lets a TXT value be a TIMEOUT marker too: that type times out.
      if (kv.second.IsScalar() && scalar(kv.second) == "TIMEOUT") {
        world.add_fault({owner, *type, world::DnsFaultKind::timeout});
        continue;
      }
      if (!timeout) listed.insert(*type);
      Record r = make_record(owner, *type, kv.second);
      if (*type == RrType::SPF) spf_records.push_back(r);
      world.add(std::move(r));
    }
    // The suite's header: "Other sections rely on auto-magic duplication of SPF to TXT
    // records (by test suite drivers)" — unless the name has a TXT entry of its own.
    if (!has_txt_entry)
      for (auto r : spf_records) {
        r.type = RrType::TXT;
        world.add(std::move(r));
      }
  }
}

}  // namespace

std::vector<OpenSpfSection> parse_openspf_suite(std::string_view yaml_text,
                                                std::string_view source) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    throw ZoneError(fmt::format("{}: YAML error: {}", source, e.what()));
  }
  std::vector<OpenSpfSection> sections;
  for (std::size_t d = 0; d < docs.size(); ++d) {
    const auto& doc = docs[d];
    if (!doc.IsMap()) continue;
    OpenSpfSection section;
    section.description = scalar(doc["description"]);
    std::string where =
        fmt::format("{}: section {} '{}'", source, d + 1, section.description);
    // One root zone: every name is inside the world (see the header).
    section.world.add_zone("");
    try {
      if (doc["zonedata"]) {
        for (const auto& entry : doc["zonedata"]) {
          try {
            load_zone_entry(section.world, world::canonical_name(scalar(entry.first)),
                            entry.second);
          } catch (const std::exception& e) {
            throw ZoneError(fmt::format("{}: zonedata '{}': {}", where, scalar(entry.first),
                                        e.what()));
          }
        }
      }
      for (const auto& t : doc["tests"]) {
        OpenSpfTest test;
        test.name = scalar(t.first);
        const auto& v = t.second;
        test.description = scalar(v["description"]);
        test.spec = v["spec"].IsSequence() ? scalar(v["spec"][0]) : scalar(v["spec"]);
        test.helo = scalar(v["helo"]);
        test.host = scalar(v["host"]);
        test.mailfrom = scalar(v["mailfrom"]);
        test.results = strings_of(v["result"]);
        test.explanation = scalar(v["explanation"]);
        section.tests.push_back(std::move(test));
      }
    } catch (const ZoneError&) {
      throw;
    } catch (const std::exception& e) {
      throw ZoneError(fmt::format("{}: {}", where, e.what()));
    }
    sections.push_back(std::move(section));
  }
  return sections;
}

std::vector<OpenSpfSection> load_openspf_suite(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ZoneError(fmt::format("{}: cannot open the OpenSPF suite", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_openspf_suite(text.str(), path.string());
}

}  // namespace mailsim::dns
