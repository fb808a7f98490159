// Textual IP addresses to bytes for the checks that compare or range-test them (iprev, mx).
#pragma once

#include <arpa/inet.h>

#include <cstring>
#include <string_view>

namespace mailsim::auth {

// Parses an IPv4 or IPv6 address text into `out` (16 bytes); returns AF_INET or AF_INET6,
// or 0 when the text is neither. Every IPv6 text has a colon and no IPv4 text has one, so
// the colon picks the family (what world::is_ipv6 decides with a trial parse), and the
// text is copied to a stack buffer for its NUL rather than to a string.
inline int parse_address(std::string_view text, unsigned char* out) {
  char buf[64];
  if (text.size() >= sizeof buf) return 0;  // longer than any address text
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  int family = text.find(':') != std::string_view::npos ? AF_INET6 : AF_INET;
  return inet_pton(family, buf, out) == 1 ? family : 0;
}

}  // namespace mailsim::auth
