#include "mailsim/smtp/server_dialogue.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "mailsim/smtp/status_codes.hpp"

namespace mailsim::smtp {

namespace {

// A message buffer up to this size is kept between messages of one connection.
constexpr std::size_t kKeptMessageCapacity = 64 * 1024;
// Room reserved for a message at DATA: most mail fits, so the buffer is allocated once
// instead of doubling its way up line by line (and copying itself each time).
constexpr std::size_t kInitialMessageCapacity = 16 * 1024;
// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets, code and CRLF included.
constexpr std::size_t kMaxReplyLine = 512;
// Client text echoed in a reply ("MAIL parameter X not recognized") is cut to this many
// octets: enough to recognize, and a client does not get to fill our reply lines.
constexpr std::size_t kMaxEcho = 64;

// `s` shortened to at most `max` octets, "..." included, never inside a UTF-8 sequence.
std::string shorten(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  std::size_t cut = max > 3 ? max - 3 : 0;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

// Client-supplied text as it may appear in a reply.
std::string echo(std::string_view s) { return shorten(s, kMaxEcho + 3); }

// The text room a reply line has: 512 octets less code, separator, enhanced code, CRLF.
std::size_t text_room(const Reply& reply) {
  return kMaxReplyLine - 4 - (reply.enhanced.empty() ? 0 : reply.enhanced.size() + 1) - 2;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

bool ascii_only(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// "FROM:<a@b> SIZE=12" → path "a@b" and params. RFC 5321 §4.1.2: Reverse-path/Forward-path
// is "<" [ A-d-l ":" ] Mailbox ">"; we accept one space after the colon as most MTAs do.
struct PathArg {
  bool ok = false;
  std::string path;
  EsmtpParams params;
  std::string error;
};

PathArg parse_path_arg(std::string_view arg, std::string_view keyword) {
  PathArg out;
  if (!istarts_with(arg, keyword)) {
    out.error = "keyword";
    return out;
  }
  arg = trim(arg.substr(keyword.size()));
  if (arg.empty() || arg.front() != '<') {
    out.error = "path";
    return out;
  }
  auto close = arg.find('>');
  if (close == std::string_view::npos) {
    out.error = "path";
    return out;
  }
  std::string_view path = arg.substr(1, close - 1);
  // Source routes (A-d-l, "@a,@b:") are obsolete; RFC 5321 §4.1.1.3 says ignore them.
  if (!path.empty() && path.front() == '@') {
    auto colon = path.find(':');
    if (colon == std::string_view::npos) {
      out.error = "path";
      return out;
    }
    path.remove_prefix(colon + 1);
  }
  out.path = std::string(path);
  std::string_view rest = trim(arg.substr(close + 1));
  while (!rest.empty()) {
    auto sp = rest.find(' ');
    std::string_view param = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view{} : trim(rest.substr(sp + 1));
    if (param.empty()) continue;
    auto eq = param.find('=');
    std::string key = upper(param.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : std::string(param.substr(eq + 1));
    out.params[key] = value;
  }
  out.ok = true;
  return out;
}

// The verbs the dialogue answers other than with "500 Command unrecognized".
bool known_command(std::string_view verb) {
  for (std::string_view v : {"EHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "VRFY",
                             "HELP", "STARTTLS", "EXPN", "AUTH", "BDAT", "ETRN", "TURN"})
    if (verb == v) return true;
  return false;
}

// A Mailbox (RFC 5321 §4.1.2): Local-part "@" domain, no spaces or controls. Loose on
// purpose: the receiver's policy, not the parser, judges odd-but-legal addresses.
bool plausible_mailbox(std::string_view addr) {
  auto at = addr.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == addr.size()) return false;
  for (char c : addr)
    if (static_cast<unsigned char>(c) <= ' ' || c == '<' || c == '>') return false;
  return true;
}

}  // namespace

// ---- SessionHandler defaults: accept everything ----

Reply SessionHandler::on_connect(const SessionContext&) {
  return make_reply(220, "", "ESMTP mailsim");
}
Reply SessionHandler::on_helo(const SessionContext&, std::string_view, bool) {
  return make_reply(250, "", "Hello");
}
Reply SessionHandler::on_mail(const SessionContext&, std::string_view, const EsmtpParams&) {
  return make_reply(250, esc::kSenderValid, "Sender OK");
}
Reply SessionHandler::on_rcpt(const SessionContext&, std::string_view, const EsmtpParams&) {
  return make_reply(250, esc::kDestinationValid, "Recipient OK");
}
Reply SessionHandler::on_data(const SessionContext&) {
  return make_reply(354, "", "End data with <CR><LF>.<CR><LF>");
}
Reply SessionHandler::on_data_end(const SessionContext&, std::string_view) {
  return make_reply(250, esc::kOk, "Message accepted");
}
void SessionHandler::on_data_refused(const SessionContext&, const Reply&) {}
void SessionHandler::on_tls(const SessionContext&) {}
void SessionHandler::on_close(const SessionContext&, std::string_view) {}

std::string_view to_string(DialogueState state) {
  switch (state) {
    case DialogueState::init: return "init";
    case DialogueState::wait_helo: return "wait_helo";
    case DialogueState::ready: return "ready";
    case DialogueState::mail: return "mail";
    case DialogueState::rcpt: return "rcpt";
    case DialogueState::data: return "data";
    case DialogueState::closed: return "closed";
  }
  return "?";
}

ServerDialogue::ServerDialogue(SessionHandler& handler, DialogueOptions options)
    : handler_(handler), options_(std::move(options)), transcript_(options_.max_transcript_lines) {}

std::size_t ServerDialogue::buffered_bytes() const { return line_.capacity() + message_.capacity(); }

bool ServerDialogue::needs_adjusting(const Reply& reply) const {
  if (!options_.enhancedstatuscodes && !reply.enhanced.empty()) return true;
  const std::size_t room = text_room(reply);
  return std::any_of(reply.lines.begin(), reply.lines.end(),
                     [room](const std::string& l) { return l.size() > room; });
}

Reply ServerDialogue::as_sent(const Reply& reply) const {
  if (!needs_adjusting(reply)) return reply;
  Reply r = reply;
  // RFC 2034: a server without the extension sends no enhanced codes.
  if (!options_.enhancedstatuscodes) r.enhanced.clear();
  // A handler's text (a persona may quote the HELO name or an address) or our own: cut so
  // every line keeps to RFC 5321 §4.5.3.1.5; a client that checks would drop the session.
  const std::size_t room = text_room(r);
  for (auto& line : r.lines)
    if (line.size() > room) line = shorten(line, room);
  return r;
}

void ServerDialogue::send(const Reply& reply, DialogueOutput& out) {
  // The usual reply needs no change and no copy.
  std::string wire = needs_adjusting(reply) ? as_sent(reply).wire() : reply.wire();
  transcript_.add_wire(Speaker::server, wire);
  out.reply += wire;
}

void ServerDialogue::close_with(const Reply& reply, DialogueOutput& out, std::string_view reason) {
  send(reply, out);
  out.close = true;
  if (state_ != DialogueState::closed) {
    state_ = DialogueState::closed;
    close_reason_ = std::string(reason);
    transcript_.add(Speaker::note, fmt::format("session closed: {}", reason));
    handler_.on_close(ctx_, reason);
  }
}

// One error funnel (OpenSMTPD-style): count, answer, and hang up past the limit.
void ServerDialogue::error(const Reply& reply, DialogueOutput& out) {
  send(reply, out);
  if (++errors_ >= options_.max_errors)
    close_with(make_reply(421, esc::kTempSecurity,
                          fmt::format("{} Error: too many errors", options_.hostname)),
               out, "too many errors");
}

void ServerDialogue::reset_transaction() {
  ctx_.in_transaction = false;
  ctx_.mail_from.clear();
  ctx_.mail_params.clear();
  ctx_.rcpt_to.clear();
  if (state_ == DialogueState::mail || state_ == DialogueState::rcpt ||
      state_ == DialogueState::data)
    state_ = DialogueState::ready;
}

DialogueOutput ServerDialogue::start(std::string client_ip) {
  DialogueOutput out;
  ctx_.client_ip = std::move(client_ip);
  transcript_.add(Speaker::note, fmt::format("connection from {}", ctx_.client_ip));
  state_ = DialogueState::wait_helo;
  Reply greeting = handler_.on_connect(ctx_);
  if (greeting.code == 220) {
    // RFC 5321 §4.3.1: the greeting names the server's host.
    Reply r = greeting;
    if (r.lines.empty()) r.lines.emplace_back();
    r.lines[0] = r.lines[0].empty() ? options_.hostname : options_.hostname + " " + r.lines[0];
    send(r, out);
  } else if (greeting.code == 421) {
    close_with(greeting, out, "refused at connect (421)");
  } else {
    // 554 (RFC 5321 §3.1): the client may QUIT; everything else gets 503.
    refused_ = true;
    send(greeting, out);
  }
  return out;
}

DialogueOutput ServerDialogue::feed(std::string_view bytes) {
  DialogueOutput out;
  while (!bytes.empty() && state_ != DialogueState::closed && state_ != DialogueState::init &&
         !out.start_tls) {
    if (state_ == DialogueState::data) {
      data_bytes(bytes, out);
      continue;
    }
    // Command mode: a line ends at LF; a CR before it is dropped. Bare LF is accepted as a
    // line end in commands (Postfix smtpd_forbid_bare_newline=normal does the same).
    auto nl = bytes.find('\n');
    std::string_view chunk = bytes.substr(0, nl);
    if (discarding_line_) {
      if (nl == std::string_view::npos) break;
      bytes.remove_prefix(nl + 1);
      ++out.lines;
      discarding_line_ = false;
      transcript_.add(Speaker::client, "(line over the command line limit)");
      error(make_reply(500, esc::kSyntaxError, "Line too long"), out);
      continue;
    }
    // RFC 5321 §4.5.3.1.4 with our limit: max_command_line includes the CRLF, so a valid
    // line holds at most max - 2 octets of text (max - 1 with its CR) before the LF.
    if (nl == std::string_view::npos) {
      if (line_.size() + chunk.size() > options_.max_command_line - 1) {
        line_.clear();
        line_.shrink_to_fit();
        discarding_line_ = true;  // skip to the LF, then answer once
      } else {
        line_.append(chunk);
      }
      break;
    }
    std::size_t text = line_.size() + chunk.size();
    if (chunk.ends_with('\r') || (chunk.empty() && line_.ends_with('\r'))) --text;
    if (text + 2 > options_.max_command_line) {
      line_.clear();
      line_.shrink_to_fit();
      bytes.remove_prefix(nl + 1);
      ++out.lines;
      transcript_.add(Speaker::client, "(line over the command line limit)");
      error(make_reply(500, esc::kSyntaxError, "Line too long"), out);
      continue;
    }
    line_.append(chunk);
    bytes.remove_prefix(nl + 1);
    ++out.lines;
    std::string line = std::move(line_);
    line_.clear();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    process_line(line, out);
  }
  if (out.start_tls) {
    // RFC 3207 §4.2 / CVE-2011-0411: nothing the client sent before the handshake may be
    // acted on after it; drop any pipelined remainder.
    if (!bytes.empty() || !line_.empty())
      transcript_.add(Speaker::note, fmt::format("discarded {} bytes pipelined after STARTTLS",
                                                 bytes.size() + line_.size()));
    line_.clear();
  }
  return out;
}

void ServerDialogue::append_message(std::string_view bytes) {
  message_bytes_ += bytes.size();
  if (in_header_) header_bytes_ += bytes.size();
  if (message_too_big_ || header_too_big_) return;  // already dropping: keep nothing
  // RFC 1870 §6.3 (message) and DialogueOptions::max_header_size (header section): refused
  // at end of data with 552; stop keeping the bytes now so a huge DATA or header cannot grow
  // memory past the limit. message_bytes_ equals message_.size() until then.
  message_too_big_ = message_bytes_ > options_.max_message_size;
  header_too_big_ = header_bytes_ > options_.max_header_size;
  if (message_too_big_ || header_too_big_) {
    message_.clear();
    message_.shrink_to_fit();
    return;
  }
  message_ += bytes;
}

// Message content: lines end at LF. Consumes what it can of `bytes`.
void ServerDialogue::data_bytes(std::string_view& bytes, DialogueOutput& out) {
  auto nl = bytes.find('\n');
  if (nl == std::string_view::npos) {
    line_.append(bytes);
    bytes = {};
    // A text line past the limit (RFC 5321 §4.5.3.1.6): store its head now so memory stays
    // bounded; keep a trailing CR, it may be half of the CRLF.
    if (line_.size() > options_.max_text_line) {
      const bool keep_cr = line_.back() == '\r';
      std::string_view head(line_.data(), line_.size() - (keep_cr ? 1 : 0));
      if (!data_line_flushed_ && head.size() > 1 && head.front() == '.') head.remove_prefix(1);
      append_message(head);
      data_line_len_ += line_.size() - (keep_cr ? 1 : 0);
      data_line_flushed_ = true;
      long_text_line_ = true;
      line_.clear();
      if (keep_cr) line_.push_back('\r');
    }
    return;
  }
  // A line wholly inside `bytes` (the usual case) is handed on in place; only a line split
  // across reads is assembled in line_, which keeps its capacity (no allocation per line).
  std::string_view line = bytes.substr(0, nl);
  if (!line_.empty()) {
    line_.append(line);
    line = line_;
  }
  bytes.remove_prefix(nl + 1);
  ++out.lines;
  const bool crlf = !line.empty() && line.back() == '\r';
  if (crlf) line.remove_suffix(1);
  data_line(line, crlf, out);
  line_.clear();
}

void ServerDialogue::data_line(std::string_view line, bool crlf, DialogueOutput& out) {
  // End of data is exactly CRLF "." CRLF (RFC 5321 §4.1.1.4). A "." line ending in a bare
  // LF, or following a line that ended in a bare LF, is content, not the end: accepting
  // "\n.\n" or "\n.\r\n" is what made the December 2023 SMTP smuggling attacks work
  // (SEC Consult; CVE-2023-51764 Postfix, CVE-2023-51765 Sendmail, CVE-2023-51766 Exim).
  if (!data_line_flushed_ && crlf && prev_line_crlf_ && line == ".") {
    end_of_data(out);
    return;
  }
  if (!data_line_flushed_ && (line == "." || line.starts_with(".\r")) && !crlf)
    transcript_.add(Speaker::note, "bare-LF \".\" line in DATA kept as content (not end of data)");
  const std::size_t total = data_line_len_ + line.size() + (crlf ? 2 : 1);
  // RFC 5322 §2.1: the first empty line ends the header section (it belongs to neither).
  if (in_header_ && !data_line_flushed_ && line.empty()) in_header_ = false;
  std::string_view content = line;
  // Transparency (RFC 5321 §4.5.2): a leading "." with more on the line is removed.
  if (!data_line_flushed_ && content.size() > 1 && content.front() == '.') content.remove_prefix(1);
  append_message(content);
  // Bare LF is stored as CRLF (Postfix's "normal" bare-newline mode does the same), so
  // relaying the message re-stuffs a lone "." and cannot smuggle.
  append_message("\r\n");
  if (total > options_.max_text_line) long_text_line_ = true;
  prev_line_crlf_ = crlf;
  data_line_flushed_ = false;
  data_line_len_ = 0;
}

void ServerDialogue::end_of_data(DialogueOutput& out) {
  transcript_.add(Speaker::client, fmt::format("<message: {} bytes>", message_bytes_));
  transcript_.add(Speaker::client, ".");
  state_ = DialogueState::ready;
  Reply reply;
  if (message_too_big_) {
    reply = make_reply(552, esc::kMessageTooBig, "Message size exceeds fixed maximum message size",
                       fmt::format("{} bytes > limit {}", message_bytes_, options_.max_message_size));
  } else if (header_too_big_) {
    // RFC 3463 X.3.4 "message too big for system", as for the size limit.
    reply = make_reply(
        552, esc::kMessageTooBig, "Message header size exceeds limit",
        fmt::format("header section {} bytes > limit {}", header_bytes_, options_.max_header_size));
  } else if (long_text_line_ && options_.reject_long_text_lines) {
    // RFC 5321 §4.5.3.1.10: "500 Line too long".
    reply = make_reply(500, esc::kSyntaxError, "Line too long",
                       fmt::format("a text line exceeded {} octets", options_.max_text_line));
  }
  if (message_too_big_ || header_too_big_ || (long_text_line_ && options_.reject_long_text_lines)) {
    reply = as_sent(reply);  // the handler hears the reply the client gets
    handler_.on_data_refused(ctx_, reply);
  } else {
    if (long_text_line_)
      transcript_.add(Speaker::note, fmt::format("message has lines over {} octets (accepted)",
                                                 options_.max_text_line));
    reply = handler_.on_data_end(ctx_, message_);
    if (reply.positive()) ++ctx_.messages;
  }
  message_.clear();
  // Keep an ordinary message's buffer for the next one on this connection; give back a
  // large one so an idle session holds little.
  if (message_.capacity() > kKeptMessageCapacity) message_.shrink_to_fit();
  message_too_big_ = false;
  header_too_big_ = false;
  in_header_ = true;
  header_bytes_ = 0;
  long_text_line_ = false;
  message_bytes_ = 0;
  // RFC 5321 §4.1.1.4: end of data clears the transaction whatever the reply.
  state_ = DialogueState::mail;  // so reset_transaction moves to ready
  reset_transaction();
  if (reply.code == 421)
    close_with(reply, out, "closed by policy after DATA");
  else
    send(reply, out);
}

void ServerDialogue::process_line(std::string_view line, DialogueOutput& out) {
  transcript_.add(Speaker::client, std::string(line));
  std::string_view rest = line;
  auto sp = rest.find(' ');
  std::string verb = upper(rest.substr(0, sp));
  std::string_view arg = sp == std::string_view::npos ? std::string_view{} : trim(rest.substr(sp + 1));
  command(verb, arg, out);
}

void ServerDialogue::command(std::string_view verb, std::string_view arg, DialogueOutput& out) {
  if (verb == "QUIT") {
    close_with(make_reply(221, esc::kOk, fmt::format("{} closing connection", options_.hostname)),
               out, "QUIT");
    return;
  }
  if (verb == "NOOP") return send(make_reply(250, esc::kOk, "OK"), out);
  // RFC 3207 §4: with TLS required, a command other than NOOP, EHLO, STARTTLS or QUIT gets
  // 530 before TLS. HELO is let through too, as Postfix does (postscreen's command table
  // marks HELO "pre-TLS", like EHLO): a HELO client cannot reach STARTTLS, but answering its
  // greeting puts the 530 at MAIL, where senders log the refusal and its reason. HELP gets the 530,
  // as the RFC says: nothing needs it to reach STARTTLS. Unknown words keep their 500 (they
  // are no command to refuse). Each 530 counts as an error, so a client that never starts
  // TLS is let go after max_errors.
  const bool tls_gate = options_.require_tls && !ctx_.tls.used && verb != "EHLO" &&
                        verb != "HELO" && verb != "STARTTLS" && known_command(verb);
  auto must_starttls = [&] {
    error(make_reply(530, esc::kSecurityOther, "Must issue a STARTTLS command first"), out);
  };
  if (verb == "HELP") {
    if (tls_gate) return must_starttls();
    return send(make_reply(214, esc::kOk,
                           "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS"),
                out);
  }
  if (refused_) {
    // RFC 5321 §3.1: after a 554 greeting, everything but QUIT gets 503.
    return error(make_reply(503, esc::kInvalidCommand, "Service refused; please QUIT"), out);
  }
  if (tls_gate) return must_starttls();
  if (verb == "EHLO" || verb == "HELO") return cmd_helo(arg, verb == "EHLO", out);
  if (verb == "MAIL") return cmd_mail(arg, out);
  if (verb == "RCPT") return cmd_rcpt(arg, out);
  if (verb == "DATA") return cmd_data(arg, out);
  if (verb == "STARTTLS") return cmd_starttls(arg, out);
  if (verb == "RSET") {
    if (!arg.empty()) return error(make_reply(501, esc::kInvalidArguments, "Syntax: RSET"), out);
    reset_transaction();
    return send(make_reply(250, esc::kOk, "Reset OK"), out);
  }
  if (verb == "VRFY") {
    if (arg.empty()) return error(make_reply(501, esc::kInvalidArguments, "Syntax: VRFY address"), out);
    // RFC 5321 §3.5.3: 252 when the server will not verify but will accept.
    return send(make_reply(252, esc::kCannotVerify,
                           "Cannot VRFY user, but will accept message and attempt delivery"),
                out);
  }
  if (verb == "EXPN" || verb == "AUTH" || verb == "BDAT" || verb == "ETRN" || verb == "TURN")
    return error(make_reply(502, esc::kInvalidCommand, "Command not implemented"), out);
  error(make_reply(500, esc::kSyntaxError, "Command unrecognized"), out);
}

void ServerDialogue::cmd_helo(std::string_view arg, bool esmtp, DialogueOutput& out) {
  if (arg.empty() || arg.find(' ') != std::string_view::npos)
    return error(make_reply(501, esc::kInvalidArguments,
                            esmtp ? "Syntax: EHLO hostname" : "Syntax: HELO hostname"),
                 out);
  Reply verdict = handler_.on_helo(ctx_, arg, esmtp);
  if (verdict.code == 421) return close_with(verdict, out, "closed by policy at HELO");
  if (!verdict.positive()) return send(verdict, out);
  // RFC 5321 §4.1.4: EHLO/HELO resets the state as RSET would.
  reset_transaction();
  ctx_.helo = std::string(arg);
  ctx_.esmtp = esmtp;
  state_ = DialogueState::ready;
  Reply reply;
  reply.code = 250;
  std::string first = verdict.lines.empty() ? std::string() : verdict.lines[0];
  reply.lines.push_back(first.empty() ? options_.hostname : options_.hostname + " " + first);
  if (esmtp) {
    // RFC 5321 §4.1.1.1: one extension keyword per line.
    if (options_.pipelining) reply.lines.push_back("PIPELINING");
    reply.lines.push_back(fmt::format("SIZE {}", options_.max_message_size));
    if (options_.eightbitmime) reply.lines.push_back("8BITMIME");
    if (options_.smtputf8) reply.lines.push_back("SMTPUTF8");
    if (options_.enhancedstatuscodes) reply.lines.push_back("ENHANCEDSTATUSCODES");
    // RFC 3207 §4.2: not offered again once TLS is up.
    if (options_.starttls && !ctx_.tls.used) reply.lines.push_back("STARTTLS");
    reply.lines.push_back("HELP");
  }
  send(reply, out);
}

void ServerDialogue::cmd_mail(std::string_view arg, DialogueOutput& out) {
  if (state_ == DialogueState::wait_helo)
    return error(make_reply(503, esc::kInvalidCommand, "Send EHLO/HELO first"), out);
  if (state_ == DialogueState::mail || state_ == DialogueState::rcpt)
    return error(make_reply(503, esc::kInvalidCommand, "Nested MAIL command"), out);
  PathArg parsed = parse_path_arg(arg, "FROM:");
  if (!parsed.ok)
    return error(make_reply(501, esc::kInvalidArguments, "Syntax: MAIL FROM:<address>"), out);
  if (!ctx_.esmtp && !parsed.params.empty())
    return error(make_reply(555, esc::kInvalidArguments,
                            "MAIL parameters not recognized (HELO session)"),
                 out);
  bool utf8 = false;
  for (const auto& [key, value] : parsed.params) {
    if (key == "SIZE") {
      // RFC 1870 §6.2/§6.3: a declared size over the limit is refused up front.
      if (value.empty() || value.size() > 19 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return error(make_reply(501, esc::kInvalidArguments, "Bad SIZE parameter"), out);
      if (std::stoull(value) > options_.max_message_size)
        return send(make_reply(552, esc::kMessageTooBig,
                               "Message size exceeds fixed maximum message size",
                               fmt::format("declared SIZE={} > limit {}", value,
                                           options_.max_message_size)),
                    out);
    } else if (key == "BODY" && options_.eightbitmime) {
      std::string v = upper(value);
      if (v != "7BIT" && v != "8BITMIME")
        return error(make_reply(501, esc::kInvalidArguments, "Bad BODY parameter"), out);
    } else if (key == "SMTPUTF8" && options_.smtputf8 && value.empty()) {
      utf8 = true;
    } else {
      return error(make_reply(555, esc::kInvalidArguments,
                              fmt::format("MAIL parameter {} not recognized", echo(key))),
                   out);
    }
  }
  if (!parsed.path.empty()) {
    if (!ascii_only(parsed.path) && !utf8)
      return send(make_reply(553, esc::kNonAsciiAddress,
                             "Non-ASCII address requires the SMTPUTF8 parameter"),
                  out);
    if (!plausible_mailbox(parsed.path))
      return error(make_reply(501, esc::kBadSenderSyntax, "Bad sender address syntax"), out);
  }
  Reply verdict = handler_.on_mail(ctx_, parsed.path, parsed.params);
  if (verdict.code == 421) return close_with(verdict, out, "closed by policy at MAIL");
  if (verdict.positive()) {
    ctx_.in_transaction = true;
    ctx_.mail_from = parsed.path;
    ctx_.mail_params = parsed.params;
    ctx_.rcpt_to.clear();
    state_ = DialogueState::mail;
  }
  send(verdict, out);
}

void ServerDialogue::cmd_rcpt(std::string_view arg, DialogueOutput& out) {
  if (state_ == DialogueState::wait_helo)
    return error(make_reply(503, esc::kInvalidCommand, "Send EHLO/HELO first"), out);
  if (state_ == DialogueState::ready)
    return error(make_reply(503, esc::kInvalidCommand, "Need MAIL command"), out);
  PathArg parsed = parse_path_arg(arg, "TO:");
  if (!parsed.ok)
    return error(make_reply(501, esc::kInvalidArguments, "Syntax: RCPT TO:<address>"), out);
  if (!parsed.params.empty())
    return error(make_reply(555, esc::kInvalidArguments,
                            fmt::format("RCPT parameter {} not recognized",
                                        echo(parsed.params.begin()->first))),
                 out);
  const bool postmaster = upper(parsed.path) == "POSTMASTER";  // RFC 5321 §4.1.1.3
  if (parsed.path.empty() || (!postmaster && !plausible_mailbox(parsed.path)))
    return error(make_reply(501, esc::kBadDestinationSyntax, "Bad recipient address syntax"), out);
  if (!ascii_only(parsed.path) && !ctx_.mail_params.contains("SMTPUTF8"))
    return send(make_reply(553, esc::kNonAsciiAddress,
                           "Non-ASCII address requires the SMTPUTF8 parameter"),
                out);
  if (ctx_.rcpt_to.size() >= options_.max_recipients)
    // RFC 5321 §4.5.3.1.8/§4.5.3.1.10: "452 Too many recipients"; the client sends the rest
    // in another transaction.
    return send(make_reply(452, esc::kTooManyRecipients, "Too many recipients",
                           fmt::format("limit {} recipients per message", options_.max_recipients)),
                out);
  Reply verdict = handler_.on_rcpt(ctx_, parsed.path, parsed.params);
  if (verdict.code == 421) return close_with(verdict, out, "closed by policy at RCPT");
  if (verdict.positive()) {
    ctx_.rcpt_to.push_back(parsed.path);
    state_ = DialogueState::rcpt;
  }
  send(verdict, out);
}

void ServerDialogue::cmd_data(std::string_view arg, DialogueOutput& out) {
  if (!arg.empty()) return error(make_reply(501, esc::kInvalidArguments, "Syntax: DATA"), out);
  if (state_ == DialogueState::wait_helo)
    return error(make_reply(503, esc::kInvalidCommand, "Send EHLO/HELO first"), out);
  if (state_ == DialogueState::ready)
    return error(make_reply(503, esc::kInvalidCommand, "Need MAIL command"), out);
  if (state_ == DialogueState::mail)
    // RFC 5321 §3.3 / RFC 2920 §3.1: DATA after no accepted RCPT gets 503 or 554.
    return send(make_reply(554, esc::kInvalidCommand, "No valid recipients"), out);
  Reply verdict = handler_.on_data(ctx_);
  if (verdict.code == 421) return close_with(verdict, out, "closed by policy at DATA");
  if (verdict.code != 354) return send(verdict, out);
  state_ = DialogueState::data;
  message_.clear();
  message_.reserve(std::min(options_.max_message_size, kInitialMessageCapacity));
  message_too_big_ = false;
  header_too_big_ = false;
  in_header_ = true;
  header_bytes_ = 0;
  long_text_line_ = false;
  message_bytes_ = 0;
  prev_line_crlf_ = true;
  data_line_flushed_ = false;
  data_line_len_ = 0;
  line_.clear();
  send(verdict, out);
}

void ServerDialogue::cmd_starttls(std::string_view arg, DialogueOutput& out) {
  if (!options_.starttls)
    return error(make_reply(502, esc::kInvalidCommand, "STARTTLS not available"), out);
  if (ctx_.tls.used)
    return error(make_reply(503, esc::kInvalidCommand, "TLS already active"), out);
  if (!arg.empty()) return error(make_reply(501, esc::kInvalidArguments, "Syntax: STARTTLS"), out);
  if (state_ == DialogueState::mail || state_ == DialogueState::rcpt)
    return error(make_reply(503, esc::kInvalidCommand, "MAIL transaction in progress"), out);
  send(make_reply(220, esc::kTlsReady, "Ready to start TLS"), out);
  out.start_tls = true;
}

void ServerDialogue::tls_started(const TlsInfo& info) {
  // RFC 3207 §4.2: the client discards all knowledge obtained before TLS, and so does the
  // server: back to "greeted, no EHLO yet".
  reset_transaction();
  ctx_.tls = info;
  ctx_.tls.used = true;
  ctx_.helo.clear();
  ctx_.esmtp = false;
  line_.clear();
  discarding_line_ = false;
  if (state_ != DialogueState::closed) state_ = DialogueState::wait_helo;
  transcript_.add(Speaker::note, fmt::format("TLS established: {} {}{}", info.protocol, info.cipher,
                                             info.peer_cert_name.empty()
                                                 ? ""
                                                 : " client cert " + info.peer_cert_name));
  handler_.on_tls(ctx_);
}

DialogueOutput ServerDialogue::timeout() {
  DialogueOutput out;
  if (state_ == DialogueState::closed) return out;
  // RFC 5321 §4.5.3.2.7 timeout; 421 per §3.8.
  close_with(make_reply(421, esc::kBadConnection,
                        fmt::format("{} Error: timeout exceeded", options_.hostname)),
             out, "timeout");
  return out;
}

DialogueOutput ServerDialogue::shutdown() {
  DialogueOutput out;
  if (state_ == DialogueState::closed) return out;
  close_with(make_reply(421, esc::kSystemNotAccepting,
                        fmt::format("{} Service shutting down", options_.hostname)),
             out, "server shutdown");
  return out;
}

void ServerDialogue::peer_closed(std::string_view reason) {
  if (state_ == DialogueState::closed) return;
  state_ = DialogueState::closed;
  close_reason_ = std::string(reason);
  transcript_.add(Speaker::note, fmt::format("session ended: {}", reason));
  handler_.on_close(ctx_, reason);
}

}  // namespace mailsim::smtp
