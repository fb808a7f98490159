#include "ldns_util.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <vector>

namespace mailsim::dns::detail {

std::string rdf_to_string(const ldns_rdf* rdf) {
  if (rdf == nullptr) return {};
  CStr s(ldns_rdf2str(rdf));
  return s ? std::string(s.get()) : std::string();
}

RdfPtr dname_from_name(std::string_view name, std::string* error) {
  auto fail = [&](std::string_view why) {
    *error = fmt::format("'{}' is not a valid domain name on the wire: {}", name, why);
    return RdfPtr();
  };
  // Wire form, RFC 1035 §3.1: <length><bytes> per label, then the root's zero octet.
  std::vector<std::uint8_t> wire;
  wire.reserve(name.size() + 2);
  std::string label;
  auto end_label = [&]() -> bool {
    if (label.empty() || label.size() > 63) return false;
    wire.push_back(static_cast<std::uint8_t>(label.size()));
    wire.insert(wire.end(), label.begin(), label.end());
    label.clear();
    return true;
  };
  if (!name.empty() && name != ".") {
    for (std::size_t i = 0; i < name.size(); ++i) {
      char c = name[i];
      if (c == '\\' && i + 1 < name.size() && (name[i + 1] == '.' || name[i + 1] == '\\')) {
        label += name[++i];
      } else if (c == '.') {
        // A trailing dot is the root, already implied; anything else ends a label.
        if (i + 1 == name.size() && !label.empty()) break;
        if (!end_label())
          return fail(label.empty() ? "empty label" : "label over 63 octets");
      } else {
        label += c;
      }
    }
    if (!label.empty() && !end_label()) return fail("label over 63 octets");
  }
  wire.push_back(0);
  if (wire.size() > 255) return fail("name over 255 octets");
  return RdfPtr(ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, wire.size(), wire.data()));
}

std::string name_from_dname(const ldns_rdf* rdf) {
  if (rdf == nullptr || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME) return {};
  const std::uint8_t* data = ldns_rdf_data(rdf);
  std::size_t size = ldns_rdf_size(rdf);
  std::string out;
  // ldns hands us uncompressed wire form; still, never read past the rdf.
  for (std::size_t i = 0; i < size && data[i] != 0;) {
    std::size_t len = data[i++];
    if (len > 63 || i + len > size) break;
    if (!out.empty()) out += '.';
    for (std::size_t k = 0; k < len; ++k) {
      char c = static_cast<char>(data[i + k]);
      if (c == '.' || c == '\\') out += '\\';
      out += c;
    }
    i += len;
  }
  return out;
}

namespace {

std::optional<world::RrType> world_type(ldns_rr_type type) {
  for (auto t : world::all_rr_types())
    if (static_cast<ldns_rr_type>(t) == type) return t;
  return std::nullopt;
}

std::string type_name(ldns_rr_type type) {
  CStr s(ldns_rr_type2str(type));
  return s ? std::string(s.get()) : fmt::format("TYPE{}", static_cast<int>(type));
}

}  // namespace

std::optional<world::Record> record_from_rr(const ldns_rr* rr, std::string* error) {
  ldns_rr_type t = ldns_rr_get_type(rr);
  auto type = world_type(t);
  if (!type) {
    *error = fmt::format("record type {} is not part of the world model (supported: A AAAA "
                         "MX TXT PTR CNAME NS SOA CAA TLSA SPF)",
                         type_name(t));
    return std::nullopt;
  }
  world::Record record;
  record.name = world::canonical_name(name_from_dname(ldns_rr_owner(rr)));
  record.type = *type;
  record.ttl = ldns_rr_ttl(rr);
  std::size_t n = ldns_rr_rd_count(rr);
  switch (*type) {
    case world::RrType::TXT:
    case world::RrType::SPF:
      // Each rdf is one <character-string> (RFC 1035 §3.3.14): a length octet, then the
      // bytes. Taken raw so escapes and non-ASCII come through exactly as published.
      for (std::size_t i = 0; i < n; ++i) {
        const ldns_rdf* rdf = ldns_rr_rdf(rr, i);
        const auto* data = ldns_rdf_data(rdf);
        std::size_t size = ldns_rdf_size(rdf);
        if (size == 0 || data[0] + 1u != size) {
          *error = "malformed TXT character-string";
          return std::nullopt;
        }
        record.strings.emplace_back(reinterpret_cast<const char*>(data + 1), data[0]);
      }
      break;
    case world::RrType::MX:
      if (n != 2) {
        *error = "MX needs a preference and an exchange";
        return std::nullopt;
      }
      record.preference = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
      record.value = world::canonical_name(name_from_dname(ldns_rr_rdf(rr, 1)));
      break;
    case world::RrType::CNAME:
    case world::RrType::NS:
    case world::RrType::PTR:
      if (n != 1) {
        *error = fmt::format("{} needs exactly one target name", world::to_string(*type));
        return std::nullopt;
      }
      record.value = world::canonical_name(name_from_dname(ldns_rr_rdf(rr, 0)));
      break;
    case world::RrType::AAAA:
      record.value = rdf_to_string(ldns_rr_rdf(rr, 0));
      std::transform(record.value.begin(), record.value.end(), record.value.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      break;
    default: {
      // A, SOA, CAA, TLSA: presentation form of the rdata, as the world stores it.
      std::string value;
      for (std::size_t i = 0; i < n; ++i) {
        if (i) value += ' ';
        value += rdf_to_string(ldns_rr_rdf(rr, i));
      }
      record.value = std::move(value);
    }
  }
  return record;
}

RrPtr rr_from_record(const world::Record& record, std::string* error) {
  if (record.type == world::RrType::TXT || record.type == world::RrType::SPF) {
    // Built by hand, not from presentation text, so every published character-string goes
    // on the wire as its own <character-string>, byte for byte.
    auto owner = dname_from_name(record.name, error);
    if (!owner) return nullptr;
    RrPtr rr(ldns_rr_new());
    ldns_rr_set_owner(rr.get(), owner.release());
    ldns_rr_set_type(rr.get(), static_cast<ldns_rr_type>(record.type));
    ldns_rr_set_class(rr.get(), LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(rr.get(), record.ttl);
    // RFC 1035 §3.3.14: TXT-DATA is one or more strings; an empty list goes out as "".
    std::vector<std::string> strings = record.strings;
    if (strings.empty()) strings.emplace_back();
    for (const auto& s : strings) {
      if (s.size() > 255) {
        *error = fmt::format("TXT string of {} octets at {} exceeds 255 (RFC 1035 §3.3)",
                             s.size(), record.name);
        return nullptr;
      }
      std::vector<std::uint8_t> data(s.size() + 1);
      data[0] = static_cast<std::uint8_t>(s.size());
      std::copy(s.begin(), s.end(), data.begin() + 1);
      ldns_rr_push_rdf(rr.get(), ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, data.size(),
                                                        data.data()));
    }
    return rr;
  }
  // Owner and name-valued rdata are built from labels (dname_from_name), not parsed from a
  // zone line: a name may hold spaces or other bytes presentation text would split or
  // re-escape. The rest of the rdata goes through ldns's presentation parser.
  auto owner = dname_from_name(record.name, error);
  if (!owner) return nullptr;
  RrPtr rr;
  auto fresh = [&] {
    rr.reset(ldns_rr_new());
    ldns_rr_set_type(rr.get(), static_cast<ldns_rr_type>(record.type));
    ldns_rr_set_class(rr.get(), LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(rr.get(), record.ttl);
  };
  switch (record.type) {
    case world::RrType::MX: {
      auto exchange = dname_from_name(record.value, error);
      if (!exchange) return nullptr;
      fresh();
      ldns_rr_push_rdf(rr.get(), ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, record.preference));
      ldns_rr_push_rdf(rr.get(), exchange.release());
      break;
    }
    case world::RrType::CNAME:
    case world::RrType::NS:
    case world::RrType::PTR: {
      auto target = dname_from_name(record.value, error);
      if (!target) return nullptr;
      fresh();
      ldns_rr_push_rdf(rr.get(), target.release());
      break;
    }
    default: {
      std::string line = fmt::format(". {} IN {} {}", record.ttl, world::to_string(record.type),
                                     record.rdata_presentation());
      ldns_rr* parsed = nullptr;
      ldns_status status = ldns_rr_new_frm_str(&parsed, line.c_str(), 0, nullptr, nullptr);
      if (status != LDNS_STATUS_OK || parsed == nullptr) {
        *error = fmt::format("cannot encode '{}': {}", record.to_zone_line(),
                             ldns_get_errorstr_by_id(status));
        return nullptr;
      }
      rr.reset(parsed);
      ldns_rdf_deep_free(ldns_rr_owner(rr.get()));
    }
  }
  ldns_rr_set_owner(rr.get(), owner.release());
  return rr;
}

}  // namespace mailsim::dns::detail
