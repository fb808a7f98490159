#include "mailsim/smtp/client.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <fmt/format.h>

#include <openssl/evp.h>

#include "tls_info.hpp"

namespace mailsim::smtp {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;

std::string_view to_string(ClientStage stage) {
  switch (stage) {
    case ClientStage::connect: return "connect";
    case ClientStage::greeting: return "greeting";
    case ClientStage::ehlo: return "ehlo";
    case ClientStage::helo: return "helo";
    case ClientStage::starttls: return "starttls";
    case ClientStage::tls_handshake: return "tls_handshake";
    case ClientStage::mail: return "mail";
    case ClientStage::rcpt: return "rcpt";
    case ClientStage::data: return "data";
    case ClientStage::data_end: return "data_end";
    case ClientStage::quit: return "quit";
    case ClientStage::done: return "done";
  }
  return "?";
}

const Reply* ClientResult::final_reply() const {
  if (data_end.code != 0) return &data_end;
  for (const Reply* r : {&greeting, &ehlo, &starttls, &auth, &mail}) {
    if (r->code != 0 && !r->positive()) return r;
  }
  for (const auto& rc : rcpts)
    if (!rc.reply.positive()) return &rc.reply;
  if (data.code != 0) return &data;
  return replies.empty() ? nullptr : &replies.back();
}

std::string dot_stuff(std::string_view data) {
  std::string out;
  out.reserve(data.size() + data.size() / 64 + 2);
  bool line_start = true;
  for (std::size_t i = 0; i < data.size(); ++i) {
    char c = data[i];
    // RFC 5321 §4.5.2: a line starting with "." gets one more.
    if (line_start && c == '.') out += '.';
    line_start = false;
    if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') continue;  // CRLF handled at LF
    if (c == '\n') {
      out += "\r\n";
      line_start = true;
      continue;
    }
    out += c;
  }
  if (!out.empty() && !line_start) out += "\r\n";
  return out;
}

namespace {

class ClientRun {
 public:
  ClientRun(asio::io_context& ioc, const ClientOptions& options, ClientResult& result)
      : options_(options), result_(result), stream_(ioc) {}

  asio::awaitable<void> run(const OutgoingMessage& msg);

  struct Failed {};  // unwinds to run() once result_.error is set

 private:

  [[noreturn]] void fail(std::string error) {
    result_.error = std::move(error);
    throw Failed{};
  }
  asio::awaitable<void> write(const std::string& bytes, bool log = true);
  asio::awaitable<Reply> read_reply(std::chrono::milliseconds timeout);
  asio::awaitable<void> starttls();
  asio::awaitable<void> quit();
  // RFC 4954 AUTH PLAIN/LOGIN; returns false (after QUIT) when the server refused.
  asio::awaitable<bool> authenticate(const std::vector<std::string>& extensions);
  // Extracts one complete reply from in_ ("NNN-…" lines then "NNN …"), or "".
  std::string take_reply();

  const ClientOptions& options_;
  ClientResult& result_;
  beast::tcp_stream stream_;
  std::shared_ptr<asio::ssl::context> tls_ctx_;
  std::unique_ptr<asio::ssl::stream<beast::tcp_stream&>> tls_;
  std::string in_;
};

std::string ClientRun::take_reply() {
  std::size_t pos = 0;
  while (true) {
    auto nl = in_.find('\n', pos);
    if (nl == std::string::npos) return {};
    std::string_view line(in_.data() + pos, nl - pos);
    if (line.size() < 4 || line[3] != '-') {
      std::string reply = in_.substr(0, nl + 1);
      in_.erase(0, nl + 1);
      return reply;
    }
    pos = nl + 1;
  }
}

asio::awaitable<void> ClientRun::write(const std::string& bytes, bool log) {
  if (log) result_.transcript.add_wire(Speaker::client, bytes);
  error_code ec;
  stream_.expires_after(options_.command_timeout);
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  if (tls_)
    co_await asio::async_write(*tls_, asio::buffer(bytes), token);
  else
    co_await asio::async_write(stream_, asio::buffer(bytes), token);
  if (ec) fail(fmt::format("write failed at {}: {}", to_string(result_.stage), ec.message()));
}

asio::awaitable<Reply> ClientRun::read_reply(std::chrono::milliseconds timeout) {
  char buf[4096];
  for (;;) {
    std::string wire = take_reply();
    if (!wire.empty()) {
      result_.transcript.add_wire(Speaker::server, wire);
      Reply reply = Reply::parse(wire);
      if (reply.code == 0) fail(fmt::format("malformed reply at {}: {}", to_string(result_.stage), wire));
      result_.replies.push_back(reply);
      co_return reply;
    }
    if (in_.size() > options_.max_reply_bytes)
      fail(fmt::format("reply longer than {} bytes at {}", options_.max_reply_bytes,
                       to_string(result_.stage)));
    error_code ec;
    stream_.expires_after(timeout);
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    std::size_t n = tls_ ? co_await tls_->async_read_some(asio::buffer(buf), token)
                         : co_await stream_.async_read_some(asio::buffer(buf), token);
    if (ec == beast::error::timeout)
      fail(fmt::format("timeout waiting for the reply at {}", to_string(result_.stage)));
    if (ec == asio::error::eof)
      fail(fmt::format("server closed the connection at {}", to_string(result_.stage)));
    if (ec) fail(fmt::format("read failed at {}: {}", to_string(result_.stage), ec.message()));
    in_.append(buf, n);
  }
}

asio::awaitable<void> ClientRun::starttls() {
  result_.stage = ClientStage::starttls;
  co_await write("STARTTLS\r\n");
  result_.starttls = co_await read_reply(options_.command_timeout);
  if (result_.starttls.code != 220) {
    if (options_.tls == TlsMode::require)
      fail(fmt::format("STARTTLS refused: {}", result_.starttls.summary()));
    co_return;  // opportunistic: go on in clear (RFC 3207 §4.1)
  }
  // RFC 3207 §4.2 / CVE-2011-0411: nothing read before the handshake counts after it.
  in_.clear();
  result_.stage = ClientStage::tls_handshake;
  namespace ssl = asio::ssl;
  if (options_.tls_context) {
    tls_ctx_ = options_.tls_context;
  } else {
    tls_ctx_ = std::make_shared<ssl::context>(ssl::context::tls_client);
    tls_ctx_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3);
    if (!options_.ca_pem.empty()) tls_ctx_->add_certificate_authority(asio::buffer(options_.ca_pem));
  }
  tls_ = std::make_unique<ssl::stream<beast::tcp_stream&>>(stream_, *tls_ctx_);
  const std::string name = options_.verify_name.empty() ? options_.host : options_.verify_name;
  error_code ec;
  asio::ip::make_address(name, ec);
  if (ec) SSL_set_tlsext_host_name(tls_->native_handle(), name.c_str());  // SNI: names only
  if (options_.verify) {
    tls_->set_verify_mode(ssl::verify_peer);
    tls_->set_verify_callback(ssl::host_name_verification(name));
  } else {
    tls_->set_verify_mode(ssl::verify_none);
  }
  ec = {};
  stream_.expires_after(options_.command_timeout);
  co_await tls_->async_handshake(ssl::stream_base::client,
                                 asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    std::string why = ec.message();
    long verify = SSL_get_verify_result(tls_->native_handle());
    if (verify != X509_V_OK) why += fmt::format(" ({})", X509_verify_cert_error_string(verify));
    fail(fmt::format("TLS handshake failed: {}", why));
  }
  result_.tls = detail::tls_info_of(tls_->native_handle());
  result_.tls.verified = options_.verify;  // the handshake would have failed otherwise
  result_.transcript.add(Speaker::note, fmt::format("TLS established: {} {}{}", result_.tls.protocol,
                                                    result_.tls.cipher,
                                                    options_.verify ? " (verified " + name + ")" : ""));
}

namespace {
std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}
}  // namespace

asio::awaitable<bool> ClientRun::authenticate(const std::vector<std::string>& extensions) {
  std::vector<std::string> mechanisms;
  for (const auto& e : extensions) {
    // "AUTH PLAIN LOGIN" (and the pre-standard "AUTH=PLAIN LOGIN" some servers still send).
    if (e.starts_with("AUTH ") || e.starts_with("AUTH=")) {
      std::string rest = e.substr(5);
      for (std::size_t p = 0; p < rest.size();) {
        auto sp = rest.find(' ', p);
        if (sp == std::string::npos) sp = rest.size();
        if (sp > p) mechanisms.push_back(rest.substr(p, sp - p));
        p = sp + 1;
      }
    }
  }
  auto offered = [&](std::string_view m) {
    return std::find(mechanisms.begin(), mechanisms.end(), m) != mechanisms.end();
  };
  if (options_.auth_requires_tls && !tls_)
    fail("AUTH refused locally: the connection is not encrypted (RFC 4954 §4; STARTTLS first)");
  if (!offered("PLAIN") && !offered("LOGIN"))
    fail(mechanisms.empty() ? std::string("AUTH required but the server offers no AUTH extension")
                            : fmt::format("AUTH: the server offers neither PLAIN nor LOGIN"));
  auto expect_continue = [&](const Reply& r) { return r.code == 334; };
  if (offered("PLAIN")) {
    // RFC 4616 §2: [authzid] NUL authcid NUL passwd, base64 as the initial response.
    std::string token = base64(std::string(1, '\0') + options_.auth_user + '\0' + options_.auth_password);
    co_await write("AUTH PLAIN " + token + "\r\n", false);
    result_.transcript.add(Speaker::client, "AUTH PLAIN <credentials of " + options_.auth_user + ">");
    result_.auth = co_await read_reply(options_.command_timeout);
  } else {
    co_await write("AUTH LOGIN\r\n");
    result_.auth = co_await read_reply(options_.command_timeout);
    if (expect_continue(result_.auth)) {
      co_await write(base64(options_.auth_user) + "\r\n", false);
      result_.transcript.add(Speaker::client, "<user name of " + options_.auth_user + ">");
      result_.auth = co_await read_reply(options_.command_timeout);
    }
    if (expect_continue(result_.auth)) {
      co_await write(base64(options_.auth_password) + "\r\n", false);
      result_.transcript.add(Speaker::client, "<password>");
      result_.auth = co_await read_reply(options_.command_timeout);
    }
  }
  if (result_.auth.code == 235) co_return true;  // RFC 4954 §6
  if (result_.auth.code != 421) co_await quit();
  co_return false;
}

asio::awaitable<void> ClientRun::quit() {
  result_.stage = ClientStage::quit;
  co_await write("QUIT\r\n");
  co_await read_reply(options_.command_timeout);
}

asio::awaitable<void> ClientRun::run(const OutgoingMessage& msg) {
  // ---- connect (loopback only: the world is sealed) ----
  error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec) fail(fmt::format("connect: '{}' is not an IP address", options_.host));
  if (!address.is_loopback() && !options_.in_sealed_namespace)
    fail(fmt::format("connect: refusing {} (mailsim dials loopback addresses only)", options_.host));
  tcp::endpoint remote(address, options_.port);
  auto& sock = stream_.socket();
  sock.open(remote.protocol(), ec);
  if (!ec && !options_.bind_address.empty()) {
    auto local = asio::ip::make_address(options_.bind_address, ec);
    if (!ec) sock.bind(tcp::endpoint(local, 0), ec);
    if (ec) fail(fmt::format("connect: cannot bind {}: {}", options_.bind_address, ec.message()));
  }
  if (ec) fail(fmt::format("connect: {}", ec.message()));
  stream_.expires_after(options_.connect_timeout);
  co_await stream_.async_connect(remote, asio::redirect_error(asio::use_awaitable, ec));
  if (ec == beast::error::timeout)
    fail(fmt::format("connect to {}:{} timed out", options_.host, options_.port));
  if (ec) fail(fmt::format("connect to {}:{}: {}", options_.host, options_.port, ec.message()));
  result_.local_address = sock.local_endpoint(ec).address().to_string();
  result_.transcript.add(Speaker::note, fmt::format("connected {} → {}:{}", result_.local_address,
                                                    options_.host, options_.port));

  // ---- greeting, EHLO/HELO, STARTTLS ----
  result_.stage = ClientStage::greeting;
  result_.greeting = co_await read_reply(options_.command_timeout);
  if (result_.greeting.code != 220) {
    if (result_.greeting.code != 421) co_await quit();
    co_return;
  }
  bool pipelining = false, size_ext = false, eightbit = false;
  for (int round = 0; round < 2; ++round) {
    result_.stage = ClientStage::ehlo;
    co_await write(fmt::format("EHLO {}\r\n", options_.helo_name));
    result_.ehlo = co_await read_reply(options_.command_timeout);
    result_.extensions.clear();
    if (result_.ehlo.code == 421) co_return;
    if (!result_.ehlo.positive()) {
      // RFC 5321 §3.2: a server that does not know EHLO gets HELO.
      result_.stage = ClientStage::helo;
      co_await write(fmt::format("HELO {}\r\n", options_.helo_name));
      result_.ehlo = co_await read_reply(options_.command_timeout);
      if (!result_.ehlo.positive()) {
        if (result_.ehlo.code != 421) co_await quit();
        co_return;
      }
    } else {
      for (std::size_t i = 1; i < result_.ehlo.lines.size(); ++i) {
        std::string ext = result_.ehlo.lines[i];
        for (char& c : ext) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        result_.extensions.push_back(ext);
      }
    }
    auto has = [&](std::string_view kw) {
      for (const auto& e : result_.extensions)
        if (e == kw || e.starts_with(std::string(kw) + " ")) return true;
      return false;
    };
    pipelining = has("PIPELINING");
    size_ext = has("SIZE");
    eightbit = has("8BITMIME");
    if (round == 0 && options_.tls != TlsMode::never && !tls_) {
      if (has("STARTTLS")) {
        co_await starttls();
        if (tls_) continue;  // RFC 3207 §4.2: EHLO again over TLS
      } else if (options_.tls == TlsMode::require) {
        result_.stage = ClientStage::starttls;
        co_await quit();
        result_.stage = ClientStage::starttls;
        fail("STARTTLS required but not offered by the server");
      }
    }
    break;
  }
  if (!options_.auth_user.empty()) {
    // Own statement: GCC 12 mishandles co_await inside a condition (see the RCPT loop).
    const bool authenticated = co_await authenticate(result_.extensions);
    if (!authenticated) {
      result_.stage = ClientStage::ehlo;  // stopped before MAIL; result_.auth says why
      co_return;
    }
  }

  // ---- the transaction ----
  std::string body = dot_stuff(msg.data);
  std::string mail = fmt::format("MAIL FROM:<{}>", msg.mail_from);
  if (size_ext) mail += fmt::format(" SIZE={}", body.size());
  const bool is_8bit = std::any_of(msg.data.begin(), msg.data.end(),
                                   [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  if (eightbit && is_8bit) mail += " BODY=8BITMIME";
  for (const auto& p : msg.mail_params) mail += " " + p;
  mail += "\r\n";
  const bool batch = pipelining && options_.pipelining;
  result_.stage = ClientStage::mail;
  if (batch) {
    // RFC 2920 §3.1: MAIL, the RCPTs and DATA (last) are pipelined, and replies come in
    // order. But a client must not block writing while the server may be blocked writing
    // replies it is not reading, unless the group fits the TCP window: 10,000 RCPTs in one
    // write dead-lock against a server with small buffers. So the commands go in groups of
    // at most max_pipelined_commands and max_pipelined_bytes (a command alone may be
    // longer), each group's replies are read before the next is sent, and DATA ends the last.
    const std::size_t count = msg.rcpt_to.size() + 2;  // MAIL, each RCPT, DATA
    auto command_at = [&](std::size_t i) {
      if (i == 0) return mail;
      if (i == count - 1) return std::string("DATA\r\n");
      return fmt::format("RCPT TO:<{}>\r\n", msg.rcpt_to[i - 1]);
    };
    const std::size_t max_commands = std::max<std::size_t>(1, options_.max_pipelined_commands);
    std::size_t next = 0;
    while (next < count) {
      const std::size_t first = next;
      std::string group;
      while (next < count && next - first < max_commands) {
        std::string command = command_at(next);
        if (next > first && group.size() + command.size() > options_.max_pipelined_bytes) break;
        group += command;
        ++next;
      }
      co_await write(group);
      for (std::size_t i = first; i < next; ++i) {
        result_.stage = i == 0           ? ClientStage::mail
                        : i == count - 1 ? ClientStage::data
                                         : ClientStage::rcpt;
        Reply reply = co_await read_reply(options_.command_timeout);
        const bool closing = reply.code == 421;  // RFC 5321 §3.8: nothing more will come
        if (i == 0) {
          result_.mail = std::move(reply);
        } else if (i == count - 1) {
          result_.data = std::move(reply);
        } else {
          // Not `push_back({r, co_await …})`: GCC 12 miscompiles co_await inside a braced
          // initializer (double free), so the reply gets its own statement.
          result_.rcpts.push_back(RcptResult{msg.rcpt_to[i - 1], std::move(reply)});
        }
        if (closing) co_return;
      }
      if (!result_.mail.positive()) {
        // No transaction: the RCPTs already sent got their 503s; send no more of it.
        result_.stage = ClientStage::mail;
        break;
      }
    }
  } else {
    co_await write(mail);
    result_.mail = co_await read_reply(options_.command_timeout);
    if (result_.mail.positive()) {
      result_.stage = ClientStage::rcpt;
      for (const auto& r : msg.rcpt_to) {
        co_await write(fmt::format("RCPT TO:<{}>\r\n", r));
        Reply reply = co_await read_reply(options_.command_timeout);
        result_.rcpts.push_back(RcptResult{r, std::move(reply)});
        if (result_.rcpts.back().reply.code == 421) co_return;
      }
      bool any = std::any_of(result_.rcpts.begin(), result_.rcpts.end(),
                             [](const RcptResult& rr) { return rr.reply.positive(); });
      if (any) {
        result_.stage = ClientStage::data;
        co_await write("DATA\r\n");
        result_.data = co_await read_reply(options_.command_timeout);
      }
    }
  }
  if (result_.data.code == 354) {
    result_.stage = ClientStage::data_end;
    result_.transcript.add(Speaker::client, fmt::format("<message: {} bytes>", body.size()));
    co_await write(body + ".\r\n", false);
    result_.transcript.add(Speaker::client, ".");
    // RFC 5321 §4.5.3.2.6: up to 10 minutes for the reply to the final ".".
    result_.data_end = co_await read_reply(options_.data_timeout);
    result_.accepted = result_.data_end.positive();
  }
  if (!result_.accepted) {
    for (const Reply* r : {&result_.mail, &result_.data})
      if (r->code == 421) co_return;
  }
  const ClientStage reached = result_.stage;
  co_await quit();
  result_.stage = result_.accepted ? ClientStage::done : reached;
}

}  // namespace

SmtpClient::SmtpClient(ClientOptions options) : options_(std::move(options)) {}

ClientResult SmtpClient::send(const OutgoingMessage& message) {
  asio::io_context ioc;
  ClientResult result;
  ClientRun run(ioc, options_, result);
  asio::co_spawn(ioc, run.run(message), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const ClientRun::Failed&) {
      // result.error is set
    } catch (const std::exception& ex) {
      result.error = fmt::format("client error at {}: {}", to_string(result.stage), ex.what());
    }
  });
  ioc.run();
  if (!result.error.empty()) result.transcript.add(Speaker::note, "error: " + result.error);
  return result;
}

}  // namespace mailsim::smtp
