#include "mailsim/sut/attempt.hpp"

#include <string>
#include <vector>

#include <fmt/core.h>

namespace mailsim::sut {

void record_client_result(const smtp::ClientResult& r, std::string_view mx_host,
                          DeliveryAttempt& a) {
  a.transcript.clear();
  if (r.replies.empty()) {
    // Nothing was said: the connection itself failed (refused, timed out, reset).
    a.connected = false;
    a.connect_error = r.error.empty() ? "connection closed before the greeting" : r.error;
    return;
  }
  a.connected = true;
  a.connect_error.clear();
  a.tls = r.tls.used;
  // Pair each reply with the command it answers, in order; with PIPELINING several
  // commands go out before their replies come back (RFC 2920 §3.1), so keep a queue.
  std::vector<std::string> pending;
  std::size_t next_pending = 0;
  std::size_t reply_index = 0;
  bool greeted = false;
  for (const auto& line : r.transcript.lines()) {
    if (line.who == smtp::Speaker::client) {
      if (line.text.rfind("<message", 0) != 0) pending.push_back(line.text);
    } else if (line.who == smtp::Speaker::server) {
      bool last_line = line.text.size() < 4 || line.text[3] != '-';
      if (!last_line || reply_index >= r.replies.size()) continue;
      std::string command = !greeted ? "<connect>"
                            : next_pending < pending.size() ? pending[next_pending++]
                                                            : "?";
      greeted = true;
      a.transcript.push_back({std::move(command), r.replies[reply_index++]});
    }
  }
  // The reply that decided: the "." reply when accepted, else the first refusal (QUIT's
  // reply never decides), else the last reply heard.
  const smtp::Reply* decisive = nullptr;
  for (const auto& e : a.transcript) {
    if (e.command == "QUIT") continue;
    if (r.accepted && e.command == ".") decisive = &e.reply;
    if (!r.accepted && !e.reply.positive() && !decisive) decisive = &e.reply;
  }
  if (!decisive) decisive = &r.replies.back();
  a.final_reply = *decisive;

  const std::string stage(smtp::to_string(r.stage));
  if (r.accepted) {
    a.outcome = AttemptOutcome::delivered;
    a.detail = fmt::format("{} accepted the message: {}", mx_host, a.final_reply.summary());
  } else if (a.final_reply.permanent()) {
    a.outcome = AttemptOutcome::bounced;
    a.detail = fmt::format("{} rejected at {}: {}", mx_host, stage, a.final_reply.summary());
  } else if (a.final_reply.transient()) {
    a.outcome = AttemptOutcome::deferred;
    a.detail = fmt::format("{} deferred at {}: {}", mx_host, stage, a.final_reply.summary());
  } else {
    // No refusal, no acceptance: the dialogue broke (timeout, TLS failure, hang-up).
    a.outcome = AttemptOutcome::deferred;
    a.detail = fmt::format("{}: dialogue broke at {}: {}", mx_host, stage,
                           r.error.empty() ? "no reply" : r.error);
  }
}

}  // namespace mailsim::sut
