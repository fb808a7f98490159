// The public suffix list (https://publicsuffix.org/list/), for DMARC's organizational
// domain (RFC 7489 §3.2). Read from Debian's publicsuffix package.
//
// Why our own small evaluator and not libopendmarc's: libopendmarc resolves DMARC records
// itself through the system resolver (res_query), which would escape the sealed world and
// bypass our Resolver and its trace; its PSL is a process-global loaded once. The PSL
// algorithm is short (rules, "*" wildcards, "!" exceptions), and the conformance vectors
// (vectors/dmarc/test_psl.txt) test it directly.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace mailsim::auth {

inline constexpr const char* kPublicSuffixListPath =
    "/usr/share/publicsuffix/public_suffix_list.dat";

class PublicSuffixList {
 public:
  // Parses the .dat format: one rule a line, "//" comments, "*." wildcards, "!" exceptions.
  // Both the ICANN and the PRIVATE sections are used, as the reference tests expect.
  static PublicSuffixList parse(std::string_view dat);
  // Loads a .dat file; throws std::runtime_error naming the path when it cannot be read.
  static PublicSuffixList load(const std::string& path);
  // The list from kPublicSuffixListPath, loaded once (thread-safe). Throws like load().
  static const PublicSuffixList& system();

  // The public suffix of `domain` (lowercased; "xn--" labels matched as Unicode).
  // nullopt for an empty name, a leading dot or an empty label.
  std::optional<std::string> public_suffix(std::string_view domain) const;
  // The public suffix plus one label ("registrable domain"); nullopt when the domain is
  // itself a public suffix or is malformed.
  std::optional<std::string> registrable_domain(std::string_view domain) const;

  std::size_t rule_count() const { return rules_.size() + wildcards_.size() + exceptions_.size(); }

 private:
  // Number of labels of the public suffix of `labels` (already normalised), per the
  // algorithm on publicsuffix.org: an exception wins, else the longest rule, else "*".
  std::size_t suffix_labels(const std::vector<std::string>& labels) const;

  std::unordered_set<std::string> rules_;       // "co.uk"
  std::unordered_set<std::string> wildcards_;   // "*.ck" stored as "ck"
  std::unordered_set<std::string> exceptions_;  // "!www.ck" stored as "www.ck"
};

// Decodes one Punycode label body (RFC 3492, without the "xn--" prefix) to UTF-8;
// nullopt when it is not valid Punycode.
std::optional<std::string> punycode_decode(std::string_view label);

}  // namespace mailsim::auth
