// Reading what a real Postfix did: its mail log (delivery attempts, per queue id) and the
// messages virtual(8) stored (client address, HELO, TLS from the Received: header).
// Pure text → data, so the parsing is tested on Postfix's own lines without a Postfix.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "mailsim/sut/sut.hpp"
#include "mta_log.hpp"

namespace mailsim::sut {

struct PostfixLog {
  // queue id → attempts in log order (one per "to=<…>, relay=…, status=…" line)
  AttemptsById attempts;
  bool final(const std::string& id) const;  // any attempt with a status at all
  SubmissionStatus status(const std::string& id, std::int64_t now) const;
};

PostfixLog parse_postfix_log(const std::string& text);

// "550-5.7.25 [12.34.56.78] The IP address sending this message does not have a PTR …"
// as Postfix quotes it after "said: " → a Reply; code 0 when there is none.
smtp::Reply parse_said_reply(const std::string& text);

StoredMessage parse_stored_message(const std::string& data);

}  // namespace mailsim::sut
