// Reading what Haraka did from its log (haraka.hpp). Three kinds of outbound line, each
// tagged with the hmail id "<transaction uuid>.<n>":
//   Haraka's own   "[outbound]  delivered file=… host=H ip=A port=25 mode=SMTP tls=Y …
//                   response="OK …" …"
//   mailsim_store  "mailsim bounce host=H ip=A reason="…""    (hook_bounce)
//                  "mailsim deferred host=H ip=A reason="…""  (hook_deferred)
#include <regex>
#include <sstream>

#include "mailsim/sut/haraka.hpp"
#include "mta_log.hpp"

namespace mailsim::sut {

namespace {

// value of `key=` in a Haraka key=value line: quoted ("…") or up to the next space.
std::string field(const std::string& line, const std::string& key) {
  auto pos = line.find(" " + key + "=");
  if (pos == std::string::npos) return {};
  pos += key.size() + 2;
  if (pos < line.size() && line[pos] == '"') {
    auto end = line.find('"', pos + 1);
    return line.substr(pos + 1, end == std::string::npos ? std::string::npos : end - pos - 1);
  }
  return line.substr(pos, line.find(' ', pos) - pos);
}

// The first SMTP reply quoted in a reason: "Upstream error: 550 5.7.25 The IP …".
smtp::Reply reply_in(const std::string& reason) {
  static const std::regex re(R"((?:^|[^0-9])([245][0-9][0-9])[ -](?:([245]\.[0-9]{1,3}\.[0-9]{1,3}) )?(.*))");
  smtp::Reply r;
  r.code = 0;
  std::smatch m;
  if (!std::regex_search(reason, m, re)) return r;
  r.code = std::stoi(m[1].str());
  if (m[2].matched) r.enhanced = m[2].str();
  r.lines.push_back(m[3].str());
  return r;
}

}  // namespace

HarakaLog parse_haraka_log(const std::string& text) {
  HarakaLog log;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const bool delivered = line.find("] [outbound]  delivered file=") != std::string::npos ||
                           line.find("] [outbound] delivered file=") != std::string::npos;
    const bool bounce = line.find(" mailsim bounce ") != std::string::npos;
    const bool deferred = line.find(" mailsim deferred ") != std::string::npos;
    if (!delivered && !bounce && !deferred) continue;
    // The hmail tag: the second [...] group after the level ("[NOTICE] [UUID.1.1]").
    auto lvl = line.find("] [");
    if (lvl == std::string::npos) continue;
    auto start = lvl + 3;
    auto end = line.find(']', start);
    if (end == std::string::npos) continue;
    std::string tag = line.substr(start, end - start);
    // hmail ids are "<transaction uuid>.<n>": the submission id is the transaction's.
    auto dot = tag.rfind('.');
    std::string id = dot == std::string::npos ? tag : tag.substr(0, dot);

    DeliveryAttempt a;
    a.submission_id = id;
    a.mx_host = field(line, "host");
    a.address = field(line, "ip");
    if (delivered) {
      a.recipient_domain = field(line, "domain");
      auto port = field(line, "port");
      if (!port.empty()) a.port = static_cast<std::uint16_t>(std::stoi(port));
      a.connected = true;
      a.tls = field(line, "tls") == "Y";
      a.final_reply.code = 250;
      a.final_reply.lines = {field(line, "response")};
      a.outcome = AttemptOutcome::delivered;
      a.detail = "delivered: " + field(line, "response");
    } else {
      const std::string reason = field(line, "reason");
      a.final_reply = reply_in(reason);
      a.connected = a.final_reply.code != 0;
      if (!a.connected) a.connect_error = reason;
      a.detail = reason;
      if (bounce)
        // A bounce without any reply is a DNS verdict (NXDOMAIN, null MX): nowhere to go.
        a.outcome = a.connected ? AttemptOutcome::bounced : AttemptOutcome::unreachable;
      else
        a.outcome = a.connected ? AttemptOutcome::deferred : AttemptOutcome::unreachable;
      // Haraka turns a temporary failure into a bounce once it runs out of retries.
      if (bounce && reason.rfind("Too many failures", 0) == 0 && !a.connected)
        a.outcome = AttemptOutcome::unreachable;
    }
    if (a.connected) a.transcript.push_back({"<connect>", smtp::Reply{220, {}, {}, {}}});
    if (a.final_reply.code) a.transcript.push_back({".", a.final_reply});
    add_attempt(log.attempts, std::move(a));
  }
  return log;
}

bool HarakaLog::final(const std::string& id) const { return has_attempt(attempts, id); }

SubmissionStatus HarakaLog::status(const std::string& id, std::int64_t now) const {
  return status_from_attempts(attempts, id, now);
}

}  // namespace mailsim::sut
