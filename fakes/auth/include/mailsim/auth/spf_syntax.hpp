// A strict RFC 7208 §12 ABNF check of one SPF record, run before libspf2 sees the record.
// libspf2 1.2.10 accepts many records the RFC makes permerror (bad domain-end, stray "%",
// control characters, two redirect=) and rejects some valid ones (unknown modifier names
// with "." or "_", /0 CIDR lengths); spf.cpp uses this parse to decide the first kind
// itself and to hand libspf2 an equivalent record for the second.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailsim::auth {

struct SpfTerm {
  enum class Kind { mechanism, modifier };
  Kind kind = Kind::mechanism;
  char qualifier = '+';      // "+" when none was written (RFC 7208 §4.6.2)
  bool explicit_qualifier = false;
  std::string name;          // lower-cased: "a", "ip4", "redirect", or an unknown modifier
  std::string value;         // domain-spec, ip network or macro-string ("" when absent)
  std::optional<int> cidr4;  // ip4-cidr-length (a, mx, ip4)
  std::optional<int> cidr6;  // ip6-cidr-length (a, mx, ip6)
  std::string text;          // the term as written
};

struct SpfSyntax {
  bool ok = false;
  std::string error;          // one sentence naming the offending term and the rule
  std::vector<SpfTerm> terms;
};

// Parses a record that starts with "v=spf1" (RFC 7208 §4.5) against §12's ABNF: every term
// is checked, wherever it stands (§4.6: a syntax error anywhere is permerror, even after a
// mechanism that would match). Pure; never throws.
SpfSyntax parse_spf_record(std::string_view record);

// "" if `spec` is a valid domain-spec (RFC 7208 §7.1: macro-string domain-end); otherwise
// why not. The macro letters c, r and t are refused: §7.3 allows them only in exp= text.
std::string check_domain_spec(std::string_view spec);

// "" if `text` is a valid macro-string (RFC 7208 §7.1); otherwise why not.
std::string check_macro_string(std::string_view text, bool exp_letters_allowed);

}  // namespace mailsim::auth
