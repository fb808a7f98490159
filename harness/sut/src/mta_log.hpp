// What a real MTA's log says about outbound deliveries, whatever the MTA: the attempts per
// submission id in log order, and the submission's status derived from them. The parsers
// (postfix_log.cpp, haraka_log.cpp) read their own line formats and fill this one shape, so
// run_queue()/status() of both adapters (real_mta.hpp) judge a log the same way.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mailsim/sut/sut.hpp"

namespace mailsim::sut {

// submission id (Postfix queue id, Haraka transaction uuid) → attempts in log order
using AttemptsById = std::map<std::string, std::vector<DeliveryAttempt>>;

// Appends `attempt` under its submission_id, numbering it as the id's next try.
void add_attempt(AttemptsById& attempts, DeliveryAttempt attempt);

// The id has at least one logged attempt: the adapters treat the first logged outcome as
// final (no retries in a probe, docs/real-mtas.md).
bool has_attempt(const AttemptsById& attempts, const std::string& id);

// queued when nothing is logged yet; otherwise every attempt (stamped `now`, the simulated
// clock) and the state the last one decided.
SubmissionStatus status_from_attempts(const AttemptsById& attempts, const std::string& id,
                                      std::int64_t now);

}  // namespace mailsim::sut
