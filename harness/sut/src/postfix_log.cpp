// Postfix mail log and stored-message parsing (postfix_log.hpp).
#include "postfix_log.hpp"

#include <regex>
#include <sstream>

namespace mailsim::sut {

namespace {

std::string between(const std::string& s, const std::string& open, char close,
                    std::size_t from = 0) {
  auto a = s.find(open, from);
  if (a == std::string::npos) return {};
  a += open.size();
  auto b = s.find(close, a);
  return s.substr(a, b == std::string::npos ? std::string::npos : b - a);
}

}  // namespace

smtp::Reply parse_said_reply(const std::string& text) {
  // Postfix joins a multi-line reply into one line: "550-5.7.25 text 550-5.7.25 more …".
  static const std::regex re(R"(^([2-5]\d\d)[ -](([245]\.\d{1,3}\.\d{1,3}) )?(.*)$)");
  std::smatch m;
  smtp::Reply r{0, {}, {}, {}};
  if (!std::regex_match(text, m, re)) return r;
  r.code = std::stoi(m[1]);
  r.enhanced = m[3];
  std::string rest = m[4];
  // Drop the repeated "550-5.7.25 " continuation prefixes Postfix kept in the text.
  std::string prefix_dash = m[1].str() + "-" + (r.enhanced.empty() ? "" : r.enhanced + " ");
  std::string prefix_sp = m[1].str() + " " + (r.enhanced.empty() ? "" : r.enhanced + " ");
  for (const auto& p : {prefix_dash, prefix_sp}) {
    for (auto pos = rest.find(" " + p); pos != std::string::npos; pos = rest.find(" " + p))
      rest.erase(pos + 1, p.size());
  }
  r.lines = {rest};
  return r;
}

PostfixLog parse_postfix_log(const std::string& text) {
  PostfixLog log;
  // TLS lines carry the smtp process's pid, not the queue id: remember per pid.
  std::map<std::string, bool> tls_by_pid;
  static const std::regex line_re(R"(postfix/(smtp|error|virtual|local)\[(\d+)\]: ([0-9A-Za-z]+): (.*)$)");
  static const std::regex tls_re(R"(postfix/smtp\[(\d+)\]: .*TLS connection established to)");
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) {
    std::smatch m;
    if (std::regex_search(line, m, tls_re)) {
      tls_by_pid[m[1]] = true;
      continue;
    }
    if (!std::regex_search(line, m, line_re)) continue;
    const std::string service = m[1], pid = m[2], id = m[3], rest = m[4];
    if (rest.rfind("to=<", 0) != 0) continue;
    std::string status = between(rest, "status=", ' ');
    if (status.empty()) continue;
    DeliveryAttempt a;
    a.submission_id = id;
    std::string to = between(rest, "to=<", '>');
    a.recipients = {to};
    a.recipient_domain = to.substr(to.find('@') + 1);
    // relay=gmail-smtp-in.l.google.com[142.250.27.26]:25 | relay=none
    std::string relay = between(rest, "relay=", ',');
    if (relay != "none" && !relay.empty()) {
      a.mx_host = relay.substr(0, relay.find('['));
      a.address = between(relay, "[", ']');
      a.connected = service == "smtp";
    }
    a.tls = tls_by_pid[pid];
    tls_by_pid.erase(pid);
    // The parenthesised explanation after status=…
    auto open = rest.find('(', rest.find("status="));
    std::string why = open == std::string::npos ? "" : rest.substr(open + 1);
    if (!why.empty() && why.back() == ')') why.pop_back();
    a.detail = "postfix: " + status + " (" + why + ")";
    // "host x[ip] said: 550 5.7.1 … (in reply to end of DATA command)"
    if (auto said = why.find(" said: "); said != std::string::npos) {
      std::string reply = why.substr(said + 7);
      if (auto in = reply.rfind(" (in reply to "); in != std::string::npos) reply.resize(in);
      a.final_reply = parse_said_reply(reply);
      a.connected = true;
    } else if (status == "sent") {
      // "250 2.0.0 OK …"
      a.final_reply = parse_said_reply(why);
    } else if (why.rfind("connect to ", 0) == 0) {
      // "connect to x[1.2.3.4]:25: Connection timed out"
      a.connected = false;
      a.mx_host = why.substr(11, why.find('[') - 11);
      a.address = between(why, "[", ']');
      auto colon = why.find("]:");
      auto msg = colon == std::string::npos ? std::string::npos : why.find(": ", colon + 2);
      a.connect_error = msg == std::string::npos ? why : why.substr(msg + 2);
      for (auto& c : a.connect_error) c = static_cast<char>(std::tolower(c));
    }
    if (a.connected) a.transcript.push_back({"<connect>", smtp::Reply{220, {}, {}, {}}});
    if (a.final_reply.code) a.transcript.push_back({".", a.final_reply});
    if (status == "sent")
      a.outcome = AttemptOutcome::delivered;
    else if (status == "bounced")
      a.outcome = a.connected ? AttemptOutcome::bounced : AttemptOutcome::unreachable;
    else
      a.outcome = a.connected ? AttemptOutcome::deferred : AttemptOutcome::unreachable;
    add_attempt(log.attempts, std::move(a));
  }
  return log;
}

bool PostfixLog::final(const std::string& id) const { return has_attempt(attempts, id); }

SubmissionStatus PostfixLog::status(const std::string& id, std::int64_t now) const {
  return status_from_attempts(attempts, id, now);
}

StoredMessage parse_stored_message(const std::string& data) {
  StoredMessage m;
  m.data = data;
  // Header block only, unfolded (RFC 5322 §2.2.3).
  std::string head = data.substr(0, data.find("\n\n"));
  std::string unfolded;
  for (std::size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\r') continue;
    if (head[i] == '\n' && i + 1 < head.size() && (head[i + 1] == ' ' || head[i + 1] == '\t')) {
      unfolded += ' ';
      continue;
    }
    unfolded += head[i];
  }
  std::stringstream ss(unfolded);
  bool seen_received = false;
  for (std::string line; std::getline(ss, line);) {
    if (line.rfind("Return-Path: <", 0) == 0) m.envelope.mail_from = between(line, "<", '>');
    if (line.rfind("Delivered-To: ", 0) == 0) m.envelope.rcpt_to.push_back(line.substr(14));
    // The first Received: is ours: "from HELO (name [ip]) (using TLS…) by mx… with ESMTPS".
    if (!seen_received && line.rfind("Received: from ", 0) == 0) {
      seen_received = true;
      std::string rest = line.substr(15);
      m.helo = rest.substr(0, rest.find(' '));
      m.client_ip = between(rest, "[", ']');
      if (m.client_ip.rfind("IPv6:", 0) == 0) m.client_ip = m.client_ip.substr(5);
      m.tls = rest.find("with ESMTPS") != std::string::npos ||
              rest.find("with ESMTPSA") != std::string::npos;
    }
  }
  return m;
}

}  // namespace mailsim::sut
