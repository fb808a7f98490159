// DNS records as the world publishes them. Pure data: no I/O, no wire format.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailsim::world {

// RR TYPE codes from the IANA registry (RFC 1035 §3.2.2, RFC 3596, RFC 6844, RFC 6698).
enum class RrType : std::uint16_t {
  A = 1,
  NS = 2,
  CNAME = 5,
  SOA = 6,
  PTR = 12,
  MX = 15,
  TXT = 16,
  AAAA = 28,
  TLSA = 52,
  // Obsolete SPF RR type (RFC 4408 §3.1.1, removed by RFC 7208 §3.1 / §14.1). Only the
  // OpenSPF conformance suite publishes it; TXT queries never see these records.
  SPF = 99,
  CAA = 257,
};

std::string_view to_string(RrType type);
// Parses "A", "mx", "TXT"… (case-insensitive); nullopt for unknown names.
std::optional<RrType> rr_type_from_string(std::string_view name);
// Every type the world model carries, in a stable order (for error messages and loops).
const std::vector<RrType>& all_rr_types();

// A resource record. Owner names are canonical: lowercase, no trailing dot.
struct Record {
  std::string name;
  RrType type = RrType::A;
  std::uint32_t ttl = 3600;
  // A/AAAA: the address; MX: the exchange; CNAME/NS/PTR: the target name (canonical);
  // SOA/CAA/TLSA: the rdata in zone-file presentation form. Unused for TXT.
  std::string value;
  // MX preference (RFC 1035 §3.3.9). Unused otherwise.
  std::uint16_t preference = 0;
  // TXT (and SPF type 99): the character-strings exactly as published, each ≤ 255 octets
  // on the wire (RFC 1035 §3.3.14). Kept apart because SPF/DKIM concatenate them with no
  // separator (RFC 7208 §3.3, RFC 6376 §3.6.2.2) and how a panel splits them is itself a
  // finding.
  std::vector<std::string> strings;

  // TXT/SPF strings joined with no separator; `value` for the other types.
  std::string text() const;
  // Zone-file presentation of the rdata (TXT strings quoted, MX "10 mx.example.com.").
  std::string rdata_presentation() const;
  // Appends rdata_presentation()'s text to `out`.
  void append_rdata_presentation(std::string& out) const;
  // "mx.nodeseek.com. 3600 IN A 12.34.56.78"
  std::string to_zone_line() const;

  bool operator==(const Record&) const = default;
};

// Canonical form of a domain name: lowercase ASCII, no trailing dot. "" stays "" (the root).
std::string canonical_name(std::string_view name);
// True when `name` equals `zone` or lies below it ("a.b.example.com" in "example.com").
bool name_in_zone(std::string_view name, std::string_view zone);

// Splits a long TXT value into ≤ 255-octet character-strings, as a correct DNS panel does.
std::vector<std::string> split_txt(std::string_view value, std::size_t chunk = 255);

// Record constructors that read like a DNS panel row.
Record make_a(std::string_view name, std::string_view address, std::uint32_t ttl = 3600);
Record make_aaaa(std::string_view name, std::string_view address, std::uint32_t ttl = 3600);
Record make_mx(std::string_view name, std::uint16_t preference, std::string_view exchange,
               std::uint32_t ttl = 3600);
// A TXT record; a value over 255 octets is split into strings of 255 (see split_txt).
Record make_txt(std::string_view name, std::string_view value, std::uint32_t ttl = 3600);
Record make_txt_strings(std::string_view name, std::vector<std::string> strings,
                        std::uint32_t ttl = 3600);
Record make_ptr(std::string_view name, std::string_view target, std::uint32_t ttl = 3600);
Record make_cname(std::string_view name, std::string_view target, std::uint32_t ttl = 3600);
Record make_ns(std::string_view name, std::string_view target, std::uint32_t ttl = 3600);
Record make_soa(std::string_view zone, std::uint32_t ttl = 3600);

// "12.34.56.78" → "78.56.34.12.in-addr.arpa"; IPv6 → nibble form under ip6.arpa
// (RFC 1035 §3.5, RFC 3596 §2.5). Empty string for an unparsable address.
std::string reverse_name(std::string_view address);
bool is_ipv6(std::string_view address);
bool is_ip_address(std::string_view text);

}  // namespace mailsim::world
