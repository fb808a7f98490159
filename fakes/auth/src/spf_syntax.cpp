// RFC 7208 §12 ABNF, term by term. Each rule below quotes the production it enforces.
#include "mailsim/auth/spf_syntax.hpp"
#include "mailsim/world/text.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace mailsim::auth {
namespace {

bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

using world::lower;

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool is_toplabel(std::string_view label) {
  if (label.empty()) return false;
  bool has_alpha = false, has_dash = false;
  for (char c : label) {
    if (c == '-') {
      has_dash = true;
    } else if (is_alnum(c)) {
      has_alpha = has_alpha || is_alpha(c);
    } else {
      return false;
    }
  }
  if (!has_dash) return has_alpha;
  return is_alnum(label.front()) && is_alnum(label.back());
}

// ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT)   ; value range 0-32
// ip6-cidr-length = "/" ("0" / %x31-39 0*2DIGIT)   ; value range 0-128
// Returns the value, or nullopt for leading zeros ("/032"), non-digits or out of range.
std::optional<int> parse_cidr(std::string_view digits, int max) {
  if (digits.empty() || digits.size() > 3) return std::nullopt;
  if (!std::all_of(digits.begin(), digits.end(), is_digit)) return std::nullopt;
  if (digits.size() > 1 && digits.front() == '0') return std::nullopt;
  int value = std::stoi(std::string(digits));
  if (value > max) return std::nullopt;
  return value;
}

// qnum = DIGIT / %x31-39 DIGIT / "1" 2DIGIT / "2" %x30-34 DIGIT / "25" %x30-35
bool is_ip4_network(std::string_view s) {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t j = i;
    while (j < s.size() && is_digit(s[j])) ++j;
    std::string_view q = s.substr(i, j - i);
    if (q.empty() || q.size() > 3 || (q.size() > 1 && q.front() == '0')) return false;
    if (std::stoi(std::string(q)) > 255) return false;
    ++parts;
    if (j == s.size()) break;
    if (s[j] != '.' || parts == 4) return false;
    i = j + 1;
  }
  return parts == 4;
}

// ip6-network = <as per RFC 4291 §2.2>; inet_pton implements exactly that text form.
bool is_ip6_network(std::string_view s) {
  if (s.empty() || s.size() > 45) return false;
  in6_addr addr{};
  return inet_pton(AF_INET6, std::string(s).c_str(), &addr) == 1;
}

// Splits a trailing dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ] off
// `arg`. The domain-spec may itself contain "/" (macro-literal), so only digits after the
// last slashes are taken as lengths; a malformed length is an error, not part of the name.
struct DualCidr {
  std::string_view rest;
  std::optional<int> cidr4, cidr6;
  std::string error;
};

DualCidr split_dual_cidr(std::string_view arg, std::string_view term) {
  DualCidr out;
  out.rest = arg;
  auto take_digits = [](std::string_view s) {
    std::size_t k = s.size();
    while (k > 0 && is_digit(s[k - 1])) --k;
    return k;
  };
  // "//N" at the end: the ip6 length.
  std::size_t k = take_digits(out.rest);
  if (k < out.rest.size() && k >= 2 && out.rest[k - 1] == '/' && out.rest[k - 2] == '/') {
    out.cidr6 = parse_cidr(out.rest.substr(k), 128);
    if (!out.cidr6) {
      out.error = fmt::format("term \"{}\": ip6-cidr-length \"/{}\" is not 0-128 without leading "
                              "zeros (RFC 7208 §5.6, §12)", term, out.rest.substr(k));
      return out;
    }
    out.rest = out.rest.substr(0, k - 2);
  }
  k = take_digits(out.rest);
  if (k < out.rest.size() && k >= 1 && out.rest[k - 1] == '/') {
    out.cidr4 = parse_cidr(out.rest.substr(k), 32);
    if (!out.cidr4) {
      out.error = fmt::format("term \"{}\": ip4-cidr-length \"/{}\" is not 0-32 without leading "
                              "zeros (RFC 7208 §5.6, §12)", term, out.rest.substr(k));
      return out;
    }
    out.rest = out.rest.substr(0, k - 1);
  }
  return out;
}

// A macro-string walked token by token (RFC 7208 §7.1). `last_is_expand` tells whether
// the string ends in a macro-expand; `tail` is the literal text after the last expand.
struct MacroScan {
  std::string error;
  bool last_is_expand = false;
  std::string_view tail;
};

MacroScan scan_macro_string(std::string_view s, bool exp_letters_allowed) {
  MacroScan out;
  std::size_t tail_start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    unsigned char u = static_cast<unsigned char>(c);
    if (c != '%') {
      // macro-literal = %x21-24 / %x26-7E: visible ASCII; no space, control or 8-bit octet.
      if (u < 0x21 || u > 0x7e) {
        out.error = u >= 0x80 ? fmt::format("non-ASCII octet 0x{:02X} (RFC 7208 §3.1, §7.1)", u)
                              : fmt::format("control or space character 0x{:02X} "
                                            "(RFC 7208 §7.1 macro-literal)", u);
        return out;
      }
      out.last_is_expand = false;
      continue;
    }
    // macro-expand = ( "%{" macro-letter transformers *delimiter "}" ) / "%%" / "%_" / "%-"
    if (i + 1 >= s.size()) {
      out.error = "a lone \"%\" at the end (RFC 7208 §7.1: write \"%%\" for a percent sign)";
      return out;
    }
    char n = s[i + 1];
    if (n == '%' || n == '_' || n == '-') {
      ++i;
      out.last_is_expand = true;
      tail_start = i + 1;
      continue;
    }
    if (n != '{') {
      out.error = fmt::format("\"%{}\" is not a macro (RFC 7208 §7.1: %{{…}}, %%, %_ or %-)", n);
      return out;
    }
    std::size_t close = s.find('}', i + 2);
    if (close == std::string_view::npos) {
      out.error = "a \"%{\" macro without its closing \"}\" (RFC 7208 §7.1)";
      return out;
    }
    std::string_view body = s.substr(i + 2, close - i - 2);
    if (body.empty()) {
      out.error = "an empty macro \"%{}\" (RFC 7208 §7.1)";
      return out;
    }
    // macro-letter = "s" / "l" / "o" / "d" / "i" / "p" / "h" / "c" / "r" / "t" / "v";
    // upper case asks for URL escaping (§7.3), so letters are case-insensitive.
    char letter = static_cast<char>(std::tolower(static_cast<unsigned char>(body[0])));
    if (std::string_view("slodiphcrtv").find(letter) == std::string_view::npos) {
      out.error = fmt::format("unknown macro letter \"{}\" in \"%{{{}}}\" (RFC 7208 §7.1)",
                              body[0], body);
      return out;
    }
    if (!exp_letters_allowed && std::string_view("crt").find(letter) != std::string_view::npos) {
      out.error = fmt::format("macro \"%{{{}}}\" is allowed only in exp= explanation text "
                              "(RFC 7208 §7.3)", body);
      return out;
    }
    // transformers = *DIGIT [ "r" ]; delimiter = "." / "-" / "+" / "," / "/" / "_" / "="
    std::size_t j = 1;
    while (j < body.size() && is_digit(body[j])) ++j;
    if (j < body.size() && (body[j] == 'r' || body[j] == 'R')) ++j;
    while (j < body.size() && std::string_view(".-+,/_=").find(body[j]) != std::string_view::npos)
      ++j;
    if (j != body.size()) {
      out.error = fmt::format("malformed macro \"%{{{}}}\" (RFC 7208 §7.1: letter, digits, "
                              "\"r\", delimiters)", body);
      return out;
    }
    i = close;
    out.last_is_expand = true;
    tail_start = i + 1;
  }
  out.tail = s.substr(std::min(tail_start, s.size()));
  return out;
}

}  // namespace

std::string check_macro_string(std::string_view text, bool exp_letters_allowed) {
  return scan_macro_string(text, exp_letters_allowed).error;
}

std::string check_domain_spec(std::string_view spec) {
  if (spec.empty()) return "the domain-spec is empty (RFC 7208 §7.1)";
  MacroScan scan = scan_macro_string(spec, false);
  if (!scan.error.empty()) return scan.error;
  // domain-end = ( "." toplabel [ "." ] ) / macro-expand
  if (scan.last_is_expand) return "";
  std::string_view tail = scan.tail;
  if (!tail.empty() && tail.back() == '.') tail.remove_suffix(1);
  std::size_t dot = tail.rfind('.');
  if (dot == std::string_view::npos)
    return fmt::format("\"{}\" does not end in \".\" toplabel or a macro (RFC 7208 §7.1 "
                       "domain-end; a single label is not a domain)", spec);
  std::string_view top = tail.substr(dot + 1);
  if (!is_toplabel(top))
    return fmt::format("top label \"{}\" of \"{}\" is not a valid toplabel (RFC 7208 §7.1: "
                       "letters, digits and inner dashes, not all digits)", top, spec);
  return "";
}

SpfSyntax parse_spf_record(std::string_view record) {
  SpfSyntax out;
  auto fail = [&out](std::string why) {
    out.ok = false;
    out.error = std::move(why);
    return out;
  };
  // version = "v=spf1", then terms = *( 1*SP ( directive / modifier ) ), then *SP.
  if (record.size() < 6 || lower(record.substr(0, 6)) != "v=spf1" ||
      (record.size() > 6 && record[6] != ' '))
    return fail("the record does not start with \"v=spf1\" and a space (RFC 7208 §4.5)");
  bool seen_redirect = false, seen_exp = false;
  std::size_t i = 6;
  while (i < record.size()) {
    while (i < record.size() && record[i] == ' ') ++i;
    if (i == record.size()) break;
    std::size_t j = record.find(' ', i);
    if (j == std::string_view::npos) j = record.size();
    std::string_view text = record.substr(i, j - i);
    i = j;
    SpfTerm term;
    term.text = std::string(text);
    // Control characters and 8-bit octets are never part of a term (§12 is ASCII; §3.1).
    for (char c : text) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x21 || u > 0x7e)
        return fail(fmt::format("term \"{}\" contains {} 0x{:02X} (RFC 7208 §3.1, §12)", text,
                                u >= 0x80 ? "the non-ASCII octet" : "the control character",
                                u));
    }
    // modifier = redirect / explanation / unknown-modifier; name "=" …
    // name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
    std::size_t n = 0;
    if (!text.empty() && is_alpha(text[0])) {
      n = 1;
      while (n < text.size() && (is_alnum(text[n]) || text[n] == '-' || text[n] == '_' ||
                                 text[n] == '.'))
        ++n;
    }
    if (n > 0 && n < text.size() && text[n] == '=') {
      term.kind = SpfTerm::Kind::modifier;
      term.name = lower(text.substr(0, n));
      term.value = std::string(text.substr(n + 1));
      if (term.name == "redirect" || term.name == "exp") {
        // RFC 7208 §6: "redirect" and "exp" MUST NOT appear more than once each.
        bool& seen = term.name == "redirect" ? seen_redirect : seen_exp;
        if (seen)
          return fail(fmt::format("term \"{}\": {}= appears twice (RFC 7208 §6)", text,
                                  term.name));
        seen = true;
        if (std::string why = check_domain_spec(term.value); !why.empty())
          return fail(fmt::format("term \"{}\": {}", text, why));
      } else if (std::string why = check_macro_string(term.value, true); !why.empty()) {
        // unknown-modifier = name "=" macro-string (§6: ignored, but must parse).
        return fail(fmt::format("term \"{}\": {}", text, why));
      }
      out.terms.push_back(std::move(term));
      continue;
    }
    // directive = [ qualifier ] mechanism
    std::string_view body = text;
    if (!body.empty() && std::string_view("+-?~").find(body[0]) != std::string_view::npos) {
      term.qualifier = body[0];
      term.explicit_qualifier = true;
      body.remove_prefix(1);
    }
    std::size_t end = body.find_first_of(":/");
    std::string name = lower(body.substr(0, end));
    std::string_view arg = end == std::string_view::npos ? std::string_view() : body.substr(end);
    term.name = name;
    if (name == "all") {
      if (!arg.empty()) return fail(fmt::format("term \"{}\": \"all\" takes no argument", text));
    } else if (name == "include" || name == "exists" || name == "ptr") {
      // include = "include" ":" domain-spec; exists = "exists" ":" domain-spec;
      // ptr = "ptr" [ ":" domain-spec ]. None of them takes a CIDR length.
      if (name == "ptr" && arg.empty()) {
        // the current domain
      } else if (arg.empty() || arg[0] != ':') {
        return fail(fmt::format("term \"{}\": {} needs \":\" and a domain-spec (RFC 7208 "
                                "§5.{})", text, name,
                                name == "include" ? 2 : name == "ptr" ? 5 : 7));
      } else {
        term.value = std::string(arg.substr(1));
        if (std::string why = check_domain_spec(term.value); !why.empty())
          return fail(fmt::format("term \"{}\": {}", text, why));
      }
    } else if (name == "a" || name == "mx") {
      // a = "a" [ ":" domain-spec ] [ dual-cidr-length ]; mx likewise.
      DualCidr dc = split_dual_cidr(arg, text);
      if (!dc.error.empty()) return fail(dc.error);
      term.cidr4 = dc.cidr4;
      term.cidr6 = dc.cidr6;
      if (!dc.rest.empty()) {
        if (dc.rest[0] != ':')
          return fail(fmt::format("term \"{}\": expected \":\" domain-spec or a CIDR length "
                                  "after \"{}\" (RFC 7208 §5.{})", text, name,
                                  name == "a" ? 3 : 4));
        term.value = std::string(dc.rest.substr(1));
        if (std::string why = check_domain_spec(term.value); !why.empty())
          return fail(fmt::format("term \"{}\": {}", text, why));
      }
    } else if (name == "ip4" || name == "ip6") {
      // ip4 = "ip4" ":" ip4-network [ ip4-cidr-length ]; ip6 likewise.
      if (arg.empty() || arg[0] != ':')
        return fail(fmt::format("term \"{}\": {} needs \":\" and an address (RFC 7208 §5.6)",
                                text, name));
      std::string_view net = arg.substr(1);
      std::size_t slash = net.find('/');
      std::string_view addr = net.substr(0, slash);
      bool v4 = name == "ip4";
      if (v4 ? !is_ip4_network(addr) : !is_ip6_network(addr))
        return fail(fmt::format("term \"{}\": \"{}\" is not an {} network (RFC 7208 §5.6)",
                                text, addr, v4 ? "IPv4 dotted-quad" : "IPv6"));
      term.value = std::string(addr);
      if (slash != std::string_view::npos) {
        std::optional<int> len = parse_cidr(net.substr(slash + 1), v4 ? 32 : 128);
        if (!len)
          return fail(fmt::format("term \"{}\": CIDR length \"{}\" is not 0-{} without leading "
                                  "zeros (RFC 7208 §5.6)", text, net.substr(slash),
                                  v4 ? 32 : 128));
        (v4 ? term.cidr4 : term.cidr6) = len;
      }
    } else {
      return fail(fmt::format("term \"{}\" is neither a known mechanism nor a modifier "
                              "(RFC 7208 §4.6.1, §12)", text));
    }
    out.terms.push_back(std::move(term));
  }
  out.ok = true;
  return out;
}

}  // namespace mailsim::auth
