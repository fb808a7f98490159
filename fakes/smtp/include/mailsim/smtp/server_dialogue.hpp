// The server side of an SMTP dialogue as a socket-free state machine (RFC 5321 §4.1, §3.3).
// Feed it the bytes a client sent; it answers with the bytes to write and what the session
// must do next (start TLS, close). Policy is injected through SessionHandler, so a persona
// can accept or reject at every stage. Sessions (server.hpp) only move bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mailsim/smtp/reply.hpp"
#include "mailsim/smtp/transcript.hpp"

namespace mailsim::smtp {

// What a TLS handshake came to; filled by the session after STARTTLS (RFC 3207).
// Mirrors auth::TlsFacts without depending on fakes/auth.
struct TlsInfo {
  bool used = false;           // the handshake completed
  std::string protocol;        // "TLSv1.3"
  std::string cipher;          // "TLS_AES_256_GCM_SHA384"
  std::string peer_cert_name;  // the other side's certificate subject CN, when it sent one
  bool verified = false;       // client side: the server certificate verified against the CA
  bool operator==(const TlsInfo&) const = default;
};

// ESMTP parameters of MAIL/RCPT (RFC 5321 §4.1.2 esmtp-param), keyword uppercased;
// a keyword without "=value" maps to "".
using EsmtpParams = std::map<std::string, std::string>;

// What the session knows so far; handed to every handler callback.
struct SessionContext {
  std::string client_ip;    // the (virtual) address the handler should see
  std::string helo;         // EHLO/HELO argument, "" before it
  bool esmtp = false;       // EHLO (not HELO) was used
  TlsInfo tls;              // after STARTTLS
  // The current transaction (RFC 5321 §3.3): reset by RSET, EHLO, STARTTLS, end of data.
  bool in_transaction = false;
  std::string mail_from;    // reverse-path without <>, "" for the null sender
  EsmtpParams mail_params;
  std::vector<std::string> rcpt_to;  // accepted recipients only
  std::size_t messages = 0;          // messages accepted in this session
};

// The policy. Every callback has a default that accepts, so a handler overrides only the
// stages it cares about. A reply with code >= 400 rejects that stage; the dialogue keeps
// the protocol state right (a rejected RCPT is not added, a rejected MAIL opens no
// transaction). A 421 reply from any callback closes the session (RFC 5321 §3.8).
class SessionHandler {
 public:
  virtual ~SessionHandler() = default;
  // The greeting (RFC 5321 §4.3.1): 220 to serve, 554 to refuse the session (the client
  // may still QUIT; every other command then gets 503 5.5.1), 421 to close at once.
  virtual Reply on_connect(const SessionContext& ctx);
  virtual Reply on_helo(const SessionContext& ctx, std::string_view name, bool esmtp);
  virtual Reply on_mail(const SessionContext& ctx, std::string_view from,
                        const EsmtpParams& params);
  virtual Reply on_rcpt(const SessionContext& ctx, std::string_view to,
                        const EsmtpParams& params);
  // DATA accepted by the protocol (a recipient exists): 354 to go on, anything else refuses.
  virtual Reply on_data(const SessionContext& ctx);
  // The whole message, dot-stuffing removed, CRLF line endings, terminator excluded.
  virtual Reply on_data_end(const SessionContext& ctx, std::string_view message);
  // The dialogue itself refused the message at end of data — 552 past the size limit
  // (RFC 1870 §6.3) or the header size limit, or 500 for an over-long text line when those
  // are refused — so on_data_end is not called; this is, with the reply sent. Default:
  // nothing.
  virtual void on_data_refused(const SessionContext& ctx, const Reply& reply);
  // After a completed STARTTLS handshake (ctx.tls is filled).
  virtual void on_tls(const SessionContext& ctx);
  // The session ended (QUIT, close, error, timeout); `reason` says which.
  virtual void on_close(const SessionContext& ctx, std::string_view reason);
};

// A handler that accepts everything (the defaults).
class AcceptAllHandler : public SessionHandler {};

struct DialogueOptions {
  std::string hostname = "mx.mailsim.test";  // in the greeting and the EHLO reply
  std::string greeting_text = "ESMTP mailsim";
  // RFC 5321 §4.5.3.1.4 says 512 octets for a command line, but also (§4.5.3.1) that
  // implementations should accept longer lines wherever possible. Senders do send them: a
  // MAIL with SIZE, BODY, SMTPUTF8 and an RFC 3461 ENVID/RET, or an RCPT with a long
  // ORCPT, passes 512. So 1000 including CRLF, as the text line limit (Postfix's
  // line_length_limit is 2048). Longer: 500 5.5.2, and never buffered past the limit.
  std::size_t max_command_line = 1000;
  // RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF. Decision:
  // accept longer lines (Postfix, Exim and Gmail do; refusing loses real mail) unless
  // `reject_long_text_lines`, then end of data gets 500 5.5.2 and the message is dropped.
  std::size_t max_text_line = 1000;
  bool reject_long_text_lines = false;
  // RFC 1870: advertised as SIZE; MAIL SIZE= above gets 552 5.3.4, and so does a message
  // that grows past it (its bytes are dropped as they come, so memory stays bounded).
  std::size_t max_message_size = 10 * 1024 * 1024;
  // The header section (RFC 5322 §2.1: the lines before the first empty line, or the whole
  // message when there is none), in octets as stored. 102400 is Postfix's
  // header_size_limit default: no real header comes near it, and DKIM, DMARC and
  // Authentication-Results parsing downstream all walk the header. Past it no more header
  // bytes are kept (memory stays bounded), the rest of the data is read and dropped, and
  // end of data gets 552 5.3.4 through on_data_refused. Postfix discards what lies past its
  // limit and delivers the rest; we refuse instead, so a message is never altered silently.
  std::size_t max_header_size = 102400;
  // RFC 5321 §4.5.3.1.8: at least 100 must be accepted; beyond, 452 4.5.3.
  std::size_t max_recipients = 100;
  // Errors (5xx for syntax/sequence/unknown) before 421 4.7.0 and close.
  int max_errors = 10;
  // Extensions advertised after EHLO.
  bool pipelining = true;        // RFC 2920
  bool eightbitmime = true;      // RFC 6152
  bool smtputf8 = true;          // RFC 6531
  // RFC 2034: advertised, and every reply (but the greeting, the EHLO/HELO reply and 3xx,
  // §3) carries its enhanced code — after HELO too (§4: "regardless of whether or not EHLO
  // is employed"). Off: neither the keyword nor any code is sent, as a server without the
  // extension; the handler's replies lose theirs on the wire.
  bool enhancedstatuscodes = true;
  bool starttls = false;         // RFC 3207: set by the session when it has a TLS context
  // RFC 3207 §4: before TLS, every command but NOOP, EHLO, HELO, STARTTLS and QUIT gets
  // 530 5.7.0 "Must issue a STARTTLS command first" (see ServerDialogue::command for HELO).
  bool require_tls = false;
  std::size_t max_transcript_lines = 20000;
};

enum class DialogueState {
  init,       // start() not called yet
  wait_helo,  // greeting sent, no EHLO/HELO yet (also after STARTTLS)
  ready,      // EHLO/HELO done, no transaction
  mail,       // MAIL accepted, no recipient yet
  rcpt,       // at least one recipient accepted
  data,       // 354 sent, reading the message
  closed,     // 221/421 sent; nothing more is read
};
std::string_view to_string(DialogueState state);

// What the session must do with the output of start()/feed().
struct DialogueOutput {
  std::string reply;       // bytes to write, in order (several replies when pipelined)
  bool start_tls = false;  // after writing `reply`, run the TLS handshake, then tls_started()
  bool close = false;      // after writing `reply`, close the connection
  // Complete lines (command lines and message lines) this call consumed: the session moves
  // its read deadline forward only on progress (server.cpp), not on every byte.
  std::size_t lines = 0;
};

class ServerDialogue {
 public:
  ServerDialogue(SessionHandler& handler, DialogueOptions options = {});

  // Sends the greeting; `client_ip` is what the handler sees as the peer.
  DialogueOutput start(std::string client_ip);
  // Processes every complete command (all of a pipelined batch, replies in order; RFC 2920)
  // and message bytes. Incomplete input is kept (bounded by the line limit). After a
  // STARTTLS 220, the rest of the input is discarded (RFC 3207 §4.2; CVE-2011-0411).
  DialogueOutput feed(std::string_view bytes);
  // The TLS handshake completed: the session is reset to the pre-EHLO state, as if just
  // greeted (RFC 3207 §4.2), and the handler's on_tls runs.
  void tls_started(const TlsInfo& info);
  // The session could not continue: a read timed out (421 4.4.2 and close), the server is
  // shutting down (421 4.3.2), or the peer went away (no reply). Each ends the dialogue.
  DialogueOutput timeout();
  DialogueOutput shutdown();
  void peer_closed(std::string_view reason);

  DialogueState state() const { return state_; }
  bool closed() const { return state_ == DialogueState::closed; }
  const SessionContext& context() const { return ctx_; }
  const Transcript& transcript() const { return transcript_; }
  // Moves the transcript out (for the session's observer once the dialogue is over).
  Transcript take_transcript() { return std::move(transcript_); }
  const DialogueOptions& options() const { return options_; }
  // Bytes held between feed() calls (partial line + message so far): for memory tests.
  std::size_t buffered_bytes() const;
  int errors() const { return errors_; }
  // Why the dialogue ended ("QUIT", "timeout", "peer closed: …"); "" while open.
  const std::string& close_reason() const { return close_reason_; }

 private:
  void process_line(std::string_view line, DialogueOutput& out);
  void command(std::string_view verb, std::string_view arg, DialogueOutput& out);
  void data_bytes(std::string_view& bytes, DialogueOutput& out);
  void data_line(std::string_view line, bool crlf, DialogueOutput& out);
  void append_message(std::string_view bytes);
  void end_of_data(DialogueOutput& out);
  void send(const Reply& reply, DialogueOutput& out);
  // `reply` as it goes on the wire: without its enhanced code when the extension is off,
  // each line cut to fit 512 octets (RFC 5321 §4.5.3.1.5).
  Reply as_sent(const Reply& reply) const;
  bool needs_adjusting(const Reply& reply) const;
  void error(const Reply& reply, DialogueOutput& out);
  void close_with(const Reply& reply, DialogueOutput& out, std::string_view reason);
  void reset_transaction();
  void cmd_helo(std::string_view arg, bool esmtp, DialogueOutput& out);
  void cmd_mail(std::string_view arg, DialogueOutput& out);
  void cmd_rcpt(std::string_view arg, DialogueOutput& out);
  void cmd_data(std::string_view arg, DialogueOutput& out);
  void cmd_starttls(std::string_view arg, DialogueOutput& out);

  SessionHandler& handler_;
  DialogueOptions options_;
  SessionContext ctx_;
  Transcript transcript_;
  DialogueState state_ = DialogueState::init;
  bool refused_ = false;        // greeting was 554: only QUIT/NOOP/HELP are served
  std::string line_;            // partial input line
  bool discarding_line_ = false;  // a command line past the limit, skipping to its LF
  std::string message_;         // DATA so far (unstuffed, CRLF)
  bool message_too_big_ = false;
  bool header_too_big_ = false;
  bool in_header_ = true;         // no empty line seen yet in this message
  std::size_t header_bytes_ = 0;  // header section so far, counted even when dropped
  bool long_text_line_ = false;
  bool prev_line_crlf_ = true;  // the line before ended in CRLF (for "\r\n.\r\n")
  bool data_line_flushed_ = false;  // the head of the current (long) DATA line is stored
  std::size_t data_line_len_ = 0;   // bytes of the current DATA line already stored
  std::size_t message_bytes_ = 0;  // counted even when dropped
  int errors_ = 0;
  std::string close_reason_;
};

}  // namespace mailsim::smtp
