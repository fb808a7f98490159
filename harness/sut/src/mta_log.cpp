// Attempts per submission id → status, shared by the Postfix and Haraka log parsers
// (mta_log.hpp).
#include "mta_log.hpp"

#include <utility>

namespace mailsim::sut {

void add_attempt(AttemptsById& attempts, DeliveryAttempt attempt) {
  auto& list = attempts[attempt.submission_id];
  attempt.try_number = static_cast<int>(list.size()) + 1;
  list.push_back(std::move(attempt));
}

bool has_attempt(const AttemptsById& attempts, const std::string& id) {
  auto it = attempts.find(id);
  return it != attempts.end() && !it->second.empty();
}

SubmissionStatus status_from_attempts(const AttemptsById& attempts, const std::string& id,
                                      std::int64_t now) {
  SubmissionStatus st;
  st.id = id;
  auto it = attempts.find(id);
  if (it == attempts.end() || it->second.empty()) return st;  // queued
  st.attempts = it->second;
  for (auto& a : st.attempts) a.at = now;
  switch (st.attempts.back().outcome) {
    case AttemptOutcome::delivered: st.state = SubmissionState::delivered; break;
    case AttemptOutcome::bounced: st.state = SubmissionState::bounced; break;
    case AttemptOutcome::deferred: st.state = SubmissionState::deferred; break;
    case AttemptOutcome::unreachable: st.state = SubmissionState::failed; break;
  }
  return st;
}

}  // namespace mailsim::sut
