#include "mailsim/world/record.hpp"
#include "mailsim/world/text.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include <fmt/core.h>

namespace mailsim::world {
namespace {

struct TypeName {
  RrType type;
  std::string_view name;
};
constexpr std::array kTypeNames{
    TypeName{RrType::A, "A"},       TypeName{RrType::AAAA, "AAAA"},
    TypeName{RrType::MX, "MX"},     TypeName{RrType::TXT, "TXT"},
    TypeName{RrType::PTR, "PTR"},   TypeName{RrType::CNAME, "CNAME"},
    TypeName{RrType::NS, "NS"},     TypeName{RrType::SOA, "SOA"},
    TypeName{RrType::CAA, "CAA"},   TypeName{RrType::TLSA, "TLSA"},
    TypeName{RrType::SPF, "SPF"},
};


// Appends the presentation form of one character-string (RFC 1035 §5.1): quotes, with "
// and \ escaped and non-printables as \DDD.
void append_quoted_txt(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  // Runs of characters that need no escape are appended whole (a DKIM key record is
  // hundreds of them, and every traced TXT answer comes through here).
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c != '"' && c != '\\' && c >= 0x20 && c < 0x7f) continue;
    out.append(s.substr(run, i - run));
    run = i + 1;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\{:03d}", c);
    }
  }
  out.append(s.substr(run));
  out += '"';
}

}  // namespace

std::string_view to_string(RrType type) {
  for (const auto& t : kTypeNames)
    if (t.type == type) return t.name;
  return "TYPE?";
}

std::optional<RrType> rr_type_from_string(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const auto& t : kTypeNames)
    if (t.name == upper) return t.type;
  return std::nullopt;
}

const std::vector<RrType>& all_rr_types() {
  static const std::vector<RrType> types = [] {
    std::vector<RrType> v;
    for (const auto& t : kTypeNames) v.push_back(t.type);
    return v;
  }();
  return types;
}

std::string Record::text() const {
  if (type != RrType::TXT && type != RrType::SPF) return value;
  std::string joined;
  for (const auto& s : strings) joined += s;
  return joined;
}

std::string Record::rdata_presentation() const {
  std::string out;
  append_rdata_presentation(out);
  return out;
}

void Record::append_rdata_presentation(std::string& out) const {
  switch (type) {
    case RrType::TXT:
    case RrType::SPF: {
      if (strings.empty()) {
        out += "\"\"";
        return;
      }
      bool first = true;
      for (const auto& s : strings) {
        if (!first) out += ' ';
        first = false;
        append_quoted_txt(out, s);
      }
      return;
    }
    case RrType::MX:
      out.append(std::to_string(preference)).append(" ").append(value).append(".");
      return;
    case RrType::CNAME:
    case RrType::NS:
    case RrType::PTR:
      out.append(value).append(".");
      return;
    default:
      out += value;
      return;
  }
}

std::string Record::to_zone_line() const {
  return fmt::format("{}. {} IN {} {}", name, ttl, to_string(type), rdata_presentation());
}

std::string canonical_name(std::string_view name) {
  while (!name.empty() && name.back() == '.') name.remove_suffix(1);
  // lower() without a std::tolower call per character: in the "C" locale mailsim runs in,
  // it changes exactly A-Z. This is on every DNS lookup's path.
  std::string out(name);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool name_in_zone(std::string_view name, std::string_view zone) {
  if (zone.empty()) return true;  // the root contains everything
  if (name.size() < zone.size()) return false;
  if (name.size() == zone.size()) return name == zone;
  return name.substr(name.size() - zone.size()) == zone &&
         name[name.size() - zone.size() - 1] == '.';
}

std::vector<std::string> split_txt(std::string_view value, std::size_t chunk) {
  std::vector<std::string> out;
  if (value.empty()) return {""};
  for (std::size_t i = 0; i < value.size(); i += chunk) out.emplace_back(value.substr(i, chunk));
  return out;
}

namespace {
Record make(std::string_view name, RrType type, std::string value, std::uint32_t ttl) {
  Record r;
  r.name = canonical_name(name);
  r.type = type;
  r.ttl = ttl;
  r.value = std::move(value);
  return r;
}
}  // namespace

Record make_a(std::string_view name, std::string_view address, std::uint32_t ttl) {
  return make(name, RrType::A, std::string(address), ttl);
}
Record make_aaaa(std::string_view name, std::string_view address, std::uint32_t ttl) {
  return make(name, RrType::AAAA, lower(address), ttl);
}
Record make_mx(std::string_view name, std::uint16_t preference, std::string_view exchange,
               std::uint32_t ttl) {
  Record r = make(name, RrType::MX, canonical_name(exchange), ttl);
  r.preference = preference;
  return r;
}
Record make_txt(std::string_view name, std::string_view value, std::uint32_t ttl) {
  return make_txt_strings(name, split_txt(value), ttl);
}
Record make_txt_strings(std::string_view name, std::vector<std::string> strings,
                        std::uint32_t ttl) {
  Record r = make(name, RrType::TXT, "", ttl);
  r.strings = std::move(strings);
  return r;
}
Record make_ptr(std::string_view name, std::string_view target, std::uint32_t ttl) {
  return make(name, RrType::PTR, canonical_name(target), ttl);
}
Record make_cname(std::string_view name, std::string_view target, std::uint32_t ttl) {
  return make(name, RrType::CNAME, canonical_name(target), ttl);
}
Record make_ns(std::string_view name, std::string_view target, std::uint32_t ttl) {
  return make(name, RrType::NS, canonical_name(target), ttl);
}
Record make_soa(std::string_view zone, std::uint32_t ttl) {
  // Fixed serial and timers: the world is static for a run (determinism).
  std::string z = canonical_name(zone);
  return make(z, RrType::SOA,
              fmt::format("ns.mailsim.test. hostmaster.{}. 2026120301 3600 600 86400 300",
                          z.empty() ? "mailsim.test" : z),
              ttl);
}

bool is_ipv6(std::string_view address) {
  in6_addr a6{};
  return inet_pton(AF_INET6, std::string(address).c_str(), &a6) == 1;
}

bool is_ip_address(std::string_view text) {
  in_addr a4{};
  return inet_pton(AF_INET, std::string(text).c_str(), &a4) == 1 || is_ipv6(text);
}

std::string reverse_name(std::string_view address) {
  std::string s(address);
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    auto* b = reinterpret_cast<const unsigned char*>(&a4.s_addr);
    return fmt::format("{}.{}.{}.{}.in-addr.arpa", b[3], b[2], b[1], b[0]);
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    std::string out;
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i) {
      out += kHex[a6.s6_addr[i] & 0x0f];
      out += '.';
      out += kHex[a6.s6_addr[i] >> 4];
      out += '.';
    }
    return out + "ip6.arpa";
  }
  return {};
}

}  // namespace mailsim::world
