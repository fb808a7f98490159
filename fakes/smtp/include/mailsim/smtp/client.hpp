// SMTP client: one message over one connection (RFC 5321 §3, §4.1), with STARTTLS (RFC 3207),
// PIPELINING (RFC 2920) when offered, and dot-stuffing (§4.5.2). Blocking-friendly: send()
// runs its own io_context and returns everything that was said.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "mailsim/smtp/reply.hpp"
#include "mailsim/smtp/server_dialogue.hpp"  // TlsInfo
#include "mailsim/smtp/transcript.hpp"

namespace mailsim::smtp {

enum class TlsMode {
  never,          // do not STARTTLS even when offered
  opportunistic,  // STARTTLS when offered; go on in clear when not offered (RFC 3207 §4)
  require,        // STARTTLS or stop (MTA-STS/DANE-like policy)
};

struct ClientOptions {
  std::string host = "127.0.0.1";  // an address (loopback only), not a name: no DNS here
  std::uint16_t port = 25;
  std::string bind_address;        // send from this local address (a 127.x.y.z alias)
  std::string helo_name = "client.mailsim.test";
  TlsMode tls = TlsMode::opportunistic;
  // Verification: when `verify`, the server certificate must chain to `ca_pem` (or to the
  // roots of `tls_context`, if given) and match `verify_name` (default: host).
  bool verify = false;
  std::string ca_pem;
  std::string verify_name;
  std::shared_ptr<boost::asio::ssl::context> tls_context;  // overrides ca_pem when set
  bool pipelining = true;          // batch MAIL+RCPT…(+DATA) when the server offers it
  // A pipelined group holds at most this many commands and bytes (one command alone may be
  // longer); its replies are read before the next group is sent (RFC 2920 §3.1: never block
  // on a write the server may not be reading, or stay within the TCP window).
  std::size_t max_pipelined_commands = 100;
  std::size_t max_pipelined_bytes = 8 * 1024;
  // RFC 5321 §4.5.3.2: 5 min for greeting/MAIL/RCPT, 2 min for DATA, 10 min for the final
  // ".". One knob for commands and one for the end of data; small in tests.
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(30);
  std::chrono::milliseconds command_timeout = std::chrono::minutes(5);
  std::chrono::milliseconds data_timeout = std::chrono::minutes(10);
  std::size_t max_reply_bytes = 64 * 1024;  // a longer reply is a protocol error
  // RFC 4954 SMTP AUTH after the (post-STARTTLS) EHLO, as a submission client on port 587
  // (RFC 6409 §4.3): PLAIN (RFC 4616) when offered, else LOGIN. Empty user = no AUTH. The
  // credentials never enter the transcript.
  std::string auth_user;
  std::string auth_password;
  // Refuse to send credentials over a connection without TLS (RFC 4954 §4, RFC 8314 §3).
  bool auth_requires_tls = true;
  // netns fabric only: the caller runs on a thread inside one of the fabric's network
  // namespaces, which have no route out of the world, so a world address (12.34.56.78) is as
  // sealed as loopback there (harness/net/netns_fabric.hpp).
  bool in_sealed_namespace = false;
};

struct OutgoingMessage {
  std::string mail_from;               // without <>; "" for the null sender
  std::vector<std::string> rcpt_to;
  std::string data;                    // RFC 5322 text, LF or CRLF; the client dot-stuffs
  std::vector<std::string> mail_params;  // extra MAIL params, e.g. "SMTPUTF8"; SIZE/BODY auto
};

// How far the client got. The result's `stage` is where it stopped (done when QUIT ran).
enum class ClientStage {
  connect, greeting, ehlo, helo, starttls, tls_handshake, mail, rcpt, data, data_end, quit,
  done,
};
std::string_view to_string(ClientStage stage);

struct RcptResult {
  std::string address;
  Reply reply;
};

struct ClientResult {
  bool accepted = false;       // the final "." got 2xx: the server took the message
  ClientStage stage = ClientStage::connect;  // the stage reached (or failed at)
  std::string error;           // local failure: "connect: Connection refused", "timeout …"
  // Every reply starts at code 0 ("not heard"): Reply's own default is 250, which would
  // make final_reply() take an unsent "." reply for the decisive one.
  Reply greeting{0, {}, {}, {}};
  Reply ehlo{0, {}, {}, {}};   // EHLO (or HELO when EHLO was refused) reply
  Reply starttls{0, {}, {}, {}};  // code 0 when STARTTLS was not sent
  Reply auth{0, {}, {}, {}};   // final AUTH reply (235 = authenticated); code 0 = not sent
  Reply mail{0, {}, {}, {}};
  std::vector<RcptResult> rcpts;
  Reply data{0, {}, {}, {}};      // the 354 (or refusal)
  Reply data_end{0, {}, {}, {}};  // the reply to "."
  std::vector<Reply> replies;  // every reply, in order
  std::vector<std::string> extensions;  // EHLO keywords, uppercased ("SIZE 10485760")
  TlsInfo tls;
  Transcript transcript;
  std::string local_address;   // the address we sent from
  // The reply that decided the outcome: data_end if reached, else the first refusal.
  const Reply* final_reply() const;
};

// Adds the leading-dot transparency (RFC 5321 §4.5.2), normalizes line ends to CRLF and
// ensures a final CRLF; does not add the "." line.
std::string dot_stuff(std::string_view data);

class SmtpClient {
 public:
  explicit SmtpClient(ClientOptions options);
  // Connects, sends one message, QUITs. Never throws for network/protocol failures: they
  // are in the result.
  ClientResult send(const OutgoingMessage& message);
  const ClientOptions& options() const { return options_; }

 private:
  ClientOptions options_;
};

inline ClientResult send_mail(ClientOptions options, const OutgoingMessage& message) {
  return SmtpClient(std::move(options)).send(message);
}

}  // namespace mailsim::smtp
