// libFuzzer target: any bytes from a client into the socket-free ServerDialogue, cut into
// reads at arbitrary points, with STARTTLS handshakes, small limits and a policy that
// refuses, defers and closes. The dialogue must never crash, and whatever it receives:
// - it writes only well-formed replies: "NNN-text" / "NNN text" lines ending in CRLF, at
//   most 512 octets each (RFC 5321 §4.5.3.1.5), one code per reply, 2xx–5xx (RFC 5321
//   §4.2), and nothing at all once closed;
// - it holds bounded memory (its partial line and message never grow past the limits);
// - a message it hands over has CRLF line ends only (a bare LF ends a content line and is
//   stored as CRLF) and fits the size limit, its header section (RFC 5322 §2.1) the header
//   limit; a transaction never has more recipients than the limit (RFC 5321 §4.5.3.1).
//   (A "." line may be content: "\r\n.\n" does not end the data, and the message is
//   handed over unstuffed.)
//
// Input layout: byte 0 picks the options; the rest is the client's bytes, where 0xFF cuts
// a read (so partial lines and pipelined batches straddle feed() calls).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mailsim/smtp/server_dialogue.hpp"

namespace {

using namespace mailsim::smtp;

// Refuses and defers on cue so every reply path is reachable from the input alone.
class FuzzHandler : public SessionHandler {
 public:
  explicit FuzzHandler(const DialogueOptions& options) : options_(options) {}
  Reply on_mail(const SessionContext& ctx, std::string_view from, const EsmtpParams& p) override {
    if (from.find("bye") != std::string_view::npos) return make_reply(421, "4.3.2", "closing");
    if (from.find("deny") != std::string_view::npos) return make_reply(550, "5.7.1", "denied");
    return SessionHandler::on_mail(ctx, from, p);
  }
  Reply on_rcpt(const SessionContext& ctx, std::string_view to, const EsmtpParams& p) override {
    if (to.find("later") != std::string_view::npos) return make_reply(451, "4.7.1", "later");
    return SessionHandler::on_rcpt(ctx, to, p);
  }
  Reply on_data_end(const SessionContext& ctx, std::string_view message) override {
    check_message(ctx, message);
    if (message.find("spam") != std::string_view::npos)
      return make_reply(550, "5.7.1", "rejected\nsecond line");
    return SessionHandler::on_data_end(ctx, message);
  }

 private:
  void check_message(const SessionContext& ctx, std::string_view m) const {
    if (m.size() > options_.max_message_size) std::abort();
    // RFC 5322 §2.1: the header runs to the first empty line, or is all of the message.
    std::size_t header = m.size();
    if (m.starts_with("\r\n"))
      header = 0;
    else if (auto blank = m.find("\r\n\r\n"); blank != std::string_view::npos)
      header = blank + 2;
    if (header > options_.max_header_size) std::abort();
    if (ctx.rcpt_to.empty() || ctx.rcpt_to.size() > options_.max_recipients) std::abort();
    for (std::size_t i = 0; i < m.size(); ++i)
      if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r')) std::abort();  // bare LF stored
  }
  const DialogueOptions& options_;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Every byte of `out` belongs to a well-formed reply line; a multi-line reply keeps its code.
void check_replies(std::string_view out) {
  std::string_view code;
  while (!out.empty()) {
    std::size_t end = out.find("\r\n");
    if (end == std::string_view::npos || end < 3) std::abort();
    std::string_view line = out.substr(0, end);
    if (end + 2 > 512) std::abort();  // RFC 5321 §4.5.3.1.5
    if (!is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2])) std::abort();
    if (line[0] < '2' || line[0] > '5') std::abort();
    if (line.size() > 3 && line[3] != ' ' && line[3] != '-') std::abort();
    if (line.find('\r') != std::string_view::npos || line.find('\n') != std::string_view::npos)
      std::abort();
    if (!code.empty() && line.substr(0, 3) != code) std::abort();
    code = line.size() > 3 && line[3] == '-' ? line.substr(0, 3) : std::string_view{};
    out.remove_prefix(end + 2);
  }
  if (!code.empty()) std::abort();  // a continuation line with no last line after it
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  DialogueOptions options;
  options.starttls = flags & 0x01;
  options.require_tls = flags & 0x02;
  options.reject_long_text_lines = flags & 0x04;
  options.pipelining = !(flags & 0x08);
  options.max_message_size = (flags & 0x10) ? 300 : 4096;
  options.max_header_size = (flags & 0x10) ? 4096 : 200;  // either limit can be the first hit
  options.max_recipients = (flags & 0x20) ? 2 : 100;
  options.max_command_line = (flags & 0x40) ? 64 : 1000;
  options.max_text_line = 80;
  options.max_transcript_lines = 200;
  FuzzHandler handler(options);
  ServerDialogue dialogue(handler, options);
  DialogueOutput out = dialogue.start("192.0.2.7");
  check_replies(out.reply);

  const std::size_t bound =
      4 * (options.max_message_size + options.max_command_line + options.max_text_line) + 256;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (!input.empty()) {
    std::size_t cut = input.find('\xff');
    std::string_view read = input.substr(0, cut);
    input.remove_prefix(cut == std::string_view::npos ? input.size() : cut + 1);
    const bool was_closed = dialogue.closed();
    out = dialogue.feed(read);
    check_replies(out.reply);
    if (was_closed && (!out.reply.empty() || !dialogue.closed())) std::abort();
    if (dialogue.buffered_bytes() > bound) std::abort();
    if (out.start_tls) {
      if (!options.starttls) std::abort();  // STARTTLS only when offered (RFC 3207 §4)
      TlsInfo tls;
      tls.used = true;
      tls.protocol = "TLSv1.3";
      dialogue.tls_started(tls);
    }
  }
  // The session ends one of the three ways a socket can end it.
  switch (flags >> 7 ? 0 : size % 3) {
    case 0:
      check_replies(dialogue.timeout().reply);
      break;
    case 1:
      check_replies(dialogue.shutdown().reply);
      break;
    default:
      dialogue.peer_closed("fuzz input ended");
      break;
  }
  if (!dialogue.closed()) std::abort();
  return 0;
}
