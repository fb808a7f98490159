// Turning what an SMTP client saw (fakes/smtp ClientResult) into a DeliveryAttempt, the
// same way for the builtin SUT's outbound queue and the runner's inbound probes.
#pragma once

#include <string_view>

#include "mailsim/smtp/client.hpp"
#include "mailsim/sut/sut.hpp"

namespace mailsim::sut {

// Fills connected, tls, transcript, final_reply, outcome and detail of `attempt` from one
// client dialogue with `mx_host`. A failure before the greeting leaves `connected` false
// and sets `connect_error` (the caller tries the next address). 2xx after "." → delivered;
// a 5xx refusal → bounced; a 4xx or a broken dialogue → deferred (RFC 5321 §4.2.1, §4.5.4.1).
void record_client_result(const smtp::ClientResult& result, std::string_view mx_host,
                          DeliveryAttempt& attempt);

}  // namespace mailsim::sut
