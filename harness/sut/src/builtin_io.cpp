#include "builtin_io.hpp"

#include <istream>
#include <stdexcept>

#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/core.h>

namespace mailsim::sut::detail {

SmtpStream::SmtpStream(tcp::socket socket, std::chrono::milliseconds timeout)
    : socket_(std::move(socket)), timeout_(timeout), timer_(socket_.get_executor()), buffer_(kMaxBuffer) {}

SmtpStream::~SmtpStream() { close(); }

void SmtpStream::close() {
  boost::system::error_code ignored;
  timer_.cancel();
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

void SmtpStream::arm() {
  timer_.expires_after(timeout_);
  // Closing the socket makes the pending read/write fail with operation_aborted, which
  // read_line() reports as a timeout because the timer fired.
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) {
      boost::system::error_code ignored;
      socket_.close(ignored);
    }
  });
}

void SmtpStream::disarm() { timer_.cancel(); }

std::string SmtpStream::tls_protocol() const {
  if (!tls_) return {};
  return SSL_get_version(tls_->native_handle());
}

std::string SmtpStream::tls_cipher() const {
  if (!tls_) return {};
  return SSL_get_cipher_name(tls_->native_handle());
}

asio::awaitable<std::string> SmtpStream::read_line(std::size_t limit) {
  // The streambuf's max size (constructor) bounds how much a peer can make us buffer.
  boost::system::error_code ec;
  std::size_t n = 0;
  arm();
  auto start = std::chrono::steady_clock::now();
  if (tls_) {
    n = co_await asio::async_read_until(*tls_, buffer_, "\r\n",
                                        asio::redirect_error(asio::use_awaitable, ec));
  } else {
    n = co_await asio::async_read_until(socket_, buffer_, "\r\n",
                                        asio::redirect_error(asio::use_awaitable, ec));
  }
  disarm();
  if (ec) {
    if (std::chrono::steady_clock::now() - start >= timeout_)
      throw std::runtime_error(fmt::format("read timed out after {} ms", timeout_.count()));
    if (ec == asio::error::not_found)
      throw std::runtime_error(fmt::format("line longer than {} octets", limit));
    if (ec == asio::error::eof) throw std::runtime_error("connection closed by peer");
    throw std::runtime_error(fmt::format("read failed: {}", ec.message()));
  }
  if (n > limit)
    throw std::runtime_error(fmt::format("line longer than {} octets", limit));
  std::string line(n - 2, '\0');
  std::istream in(&buffer_);
  in.read(line.data(), static_cast<std::streamsize>(n - 2));
  in.ignore(2);
  co_return line;
}

asio::awaitable<smtp::Reply> SmtpStream::read_reply() {
  std::string wire;
  for (std::size_t i = 0; i < kMaxReplyLines; ++i) {
    std::string line = co_await read_line();
    wire += line;
    wire += "\r\n";
    // "250-…" continues; "250 …" or a bare "250" ends the reply (RFC 5321 §4.2.1).
    if (line.size() < 4 || line[3] != '-') {
      smtp::Reply reply = smtp::Reply::parse(wire);
      if (reply.code == 0) throw std::runtime_error("malformed reply: " + line);
      co_return reply;
    }
  }
  throw std::runtime_error(fmt::format("reply longer than {} lines", kMaxReplyLines));
}

asio::awaitable<void> SmtpStream::write(std::string data) {
  boost::system::error_code ec;
  arm();
  if (tls_) {
    co_await asio::async_write(*tls_, asio::buffer(data.data(), data.size()),
                               asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()),
                               asio::redirect_error(asio::use_awaitable, ec));
  }
  disarm();
  if (ec) throw std::runtime_error(fmt::format("write failed: {}", ec.message()));
}

asio::awaitable<void> SmtpStream::start_tls(asio::ssl::context& context, bool client,
                                            const std::string& sni) {
  // Anything the peer pipelined before the handshake would be a STARTTLS injection
  // (RFC 3207 §4.2 / CVE-2011-0411): discard it.
  buffer_.consume(buffer_.size());
  auto stream = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, context);
  if (client && !sni.empty()) SSL_set_tlsext_host_name(stream->native_handle(), sni.c_str());
  boost::system::error_code ec;
  arm();
  co_await stream->async_handshake(client ? asio::ssl::stream_base::client
                                          : asio::ssl::stream_base::server,
                                   asio::redirect_error(asio::use_awaitable, ec));
  disarm();
  if (ec) throw std::runtime_error(fmt::format("TLS handshake failed: {}", ec.message()));
  tls_ = std::move(stream);
}

std::string to_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32 + 2);
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

std::string dot_stuff(std::string_view crlf_message) {
  std::string out;
  out.reserve(crlf_message.size() + 8);
  bool line_start = true;
  for (char c : crlf_message) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = (c == '\n');
  }
  out += ".\r\n";
  return out;
}

}  // namespace mailsim::sut::detail
