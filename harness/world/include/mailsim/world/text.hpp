// Small ASCII text helpers every area needs for DNS names, tags and header fields, which are
// case-insensitive ASCII (RFC 4343, RFC 5322 §1.2.2): one definition instead of a copy per file.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace mailsim::world {

// ASCII lowercase; other bytes (UTF-8) unchanged.
inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Without leading and trailing white space (space, tab, CR, LF, VT, FF).
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace mailsim::world
