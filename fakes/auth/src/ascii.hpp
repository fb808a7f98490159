// ASCII character helpers for the checks' hot loops. Header field names, DNS names and
// tags are case-insensitive ASCII (RFC 5322 §1.2.2, RFC 4343), so a table-free inline
// test is exact for them and avoids a call through the PLT per character that
// std::tolower/std::isspace cost (they consult the C locale, which mailsim never changes:
// in the "C" locale they are these same ASCII functions).
#pragma once

#include <string>
#include <string_view>

namespace mailsim::auth::ascii {

constexpr char to_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// std::isspace in the "C" locale: space, \t, \n, \v, \f, \r.
constexpr bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
constexpr bool is_xdigit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

// Does `s` at `pos` start with `lower_prefix` (given in lowercase), ignoring ASCII case?
inline bool istarts_at(std::string_view s, std::size_t pos, std::string_view lower_prefix) {
  if (pos > s.size() || s.size() - pos < lower_prefix.size()) return false;
  for (std::size_t i = 0; i < lower_prefix.size(); ++i)
    if (to_lower(s[pos + i]) != lower_prefix[i]) return false;
  return true;
}

// First position >= from where `lower_needle` (lowercase, non-empty) occurs ignoring ASCII
// case, or npos: the same answer as lowercasing `s` first and calling find.
inline std::size_t ifind(std::string_view s, std::string_view lower_needle, std::size_t from) {
  const char first = lower_needle.front();
  const char first_upper = first >= 'a' && first <= 'z' ? static_cast<char>(first - 'a' + 'A')
                                                        : first;
  for (std::size_t i = from; i + lower_needle.size() <= s.size(); ++i) {
    if (s[i] != first && s[i] != first_upper) continue;
    if (istarts_at(s, i, lower_needle)) return i;
  }
  return std::string_view::npos;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

// Without leading and trailing std::isspace white space (as world::trim).
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace mailsim::auth::ascii
