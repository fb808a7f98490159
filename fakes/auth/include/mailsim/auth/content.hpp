// RFC 5322 essentials and shape of the content (RFC 5322 §3.6, RFC 8058, RFC 2369).
#pragma once

#include "mailsim/auth/facts.hpp"
#include "mailsim/auth/result.hpp"

namespace mailsim::auth {

struct ContentResult : CheckResult {
  int from_count = 0;
  bool has_date = false;
  bool has_message_id = false;
  bool valid_message_id = false;
  bool has_to = false;
  bool has_subject = false;
  std::vector<std::string> duplicated_headers;  // single-instance fields seen twice (§3.6)
  std::size_t body_length = 0;                  // octets of visible text
  bool empty_body = false;
  bool html_only = false;                       // text/html with no text/plain part
  bool list_unsubscribe = false;                // RFC 2369
  bool one_click = false;                       // RFC 8058 List-Unsubscribe-Post
};

// result: pass when RFC 5322 §3.6's required fields are there exactly once; fail otherwise.
ContentResult check_content(const Message& message);

}  // namespace mailsim::auth
