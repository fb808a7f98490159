// Line I/O for the builtin SUT's SMTP client and server: every read has a deadline and a
// size limit (STYLE.md), over a plain TCP socket or the same socket after STARTTLS.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>

#include "mailsim/smtp/reply.hpp"

namespace mailsim::sut::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// RFC 5321 §4.5.3.1.4/§4.5.3.1.5: command lines ≤ 512 octets, reply lines ≤ 512; we allow
// a generous 4096 so a sloppy peer is reported, not cut off. Text lines of DATA ≤ 1000.
inline constexpr std::size_t kMaxLine = 4096;
inline constexpr std::size_t kMaxReplyLines = 64;
inline constexpr std::size_t kMaxMessage = 10 * 1024 * 1024;
inline constexpr std::size_t kMaxBuffer = 64 * 1024;  // unread input we hold at most

// A TCP stream that may be upgraded to TLS in place (RFC 3207), with one deadline timer
// that closes the socket when an operation overruns.
class SmtpStream {
 public:
  SmtpStream(tcp::socket socket, std::chrono::milliseconds timeout);
  ~SmtpStream();

  tcp::socket& socket() { return socket_; }
  bool tls() const { return tls_ != nullptr; }
  std::string tls_protocol() const;
  std::string tls_cipher() const;

  // One CRLF-terminated line without the CRLF; throws on timeout, EOF or an overlong line.
  asio::awaitable<std::string> read_line(std::size_t limit = kMaxLine);
  // A complete reply, multi-line included (RFC 5321 §4.2.1).
  asio::awaitable<smtp::Reply> read_reply();
  // Takes the bytes by value: a coroutine must own what it sends across suspensions.
  asio::awaitable<void> write(std::string data);
  // Upgrades to TLS. `client`: verify nothing (opportunistic, as MTAs do by default).
  asio::awaitable<void> start_tls(asio::ssl::context& context, bool client,
                                  const std::string& sni);
  void close();

 private:
  void arm();
  void disarm();

  tcp::socket socket_;
  std::chrono::milliseconds timeout_;
  asio::steady_timer timer_;
  asio::streambuf buffer_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
};

// Dot-stuffing for DATA (RFC 5321 §4.5.2) and the end-of-data marker.
std::string dot_stuff(std::string_view crlf_message);
// LF or CRLF text → CRLF text, ending with CRLF.
std::string to_crlf(std::string_view text);

}  // namespace mailsim::sut::detail
