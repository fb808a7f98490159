// One reply type for every SMTP answer (RFC 5321 §4.2, enhanced codes RFC 3463 / RFC 5248).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailsim::smtp {

struct Reply {
  int code = 250;                  // 2xx/3xx/4xx/5xx (RFC 5321 §4.2.1)
  std::string enhanced;            // "5.7.26" or "" (RFC 3463 class.subject.detail)
  std::vector<std::string> lines;  // text lines, without code/enhanced prefix
  std::string cause;               // why this reply (for reports; never sent on the wire)

  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }

  // Wire form: every line "CODE-ENH text\r\n" but the last "CODE ENH text\r\n"
  // (RFC 5321 §4.2.1 multi-line replies; RFC 2034 puts the enhanced code on each line).
  std::string wire() const;
  // One line for tables and logs: "550 5.7.26 Unauthenticated email from …"
  std::string summary() const;
  // Parses a complete (possibly multi-line) wire reply; code 0 when malformed.
  static Reply parse(std::string_view wire);

  bool operator==(const Reply&) const = default;
};

// Builds a reply; `text` may contain '\n' to make a multi-line reply.
Reply make_reply(int code, std::string_view enhanced, std::string_view text,
                 std::string_view cause = {});

}  // namespace mailsim::smtp
