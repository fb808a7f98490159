// SMTP server on Boost.Asio: a listener that accepts and spawns one session per connection;
// a session only moves bytes between its socket (upgraded in place to TLS on STARTTLS,
// RFC 3207) and a ServerDialogue. Every read, write and handshake has a deadline, every read
// a size limit.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "mailsim/smtp/server_dialogue.hpp"

namespace mailsim::smtp {

// Which I/O step a fault hook is asked about (tests: make the Nth operation fail).
enum class IoOp { read, write, handshake };

struct ServerOptions {
  std::string address = "127.0.0.1";  // loopback only (127.0.0.0/8 or ::1)
  std::uint16_t port = 0;             // 0: an ephemeral port, see local_endpoint()
  DialogueOptions dialogue;           // `dialogue.starttls` is set from `tls`
  // RFC 5321 §4.5.3.2.7: the server waits at least 5 minutes for the next command. Small in
  // tests. It is the time a client has to complete a command line, or in DATA a message line
  // or 512 octets of message, from the last one: bytes that trickle in without completing
  // one do not extend it (Postfix smtpd_per_record_deadline), so a trickler gets 421 4.4.2.
  std::chrono::milliseconds command_timeout = std::chrono::minutes(5);
  std::chrono::milliseconds tls_handshake_timeout = std::chrono::seconds(30);
  std::size_t read_chunk = 16 * 1024;  // bytes per read; the dialogue bounds what it keeps
  // When set, STARTTLS is offered and the socket is upgraded with this context.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Maps the real peer (127.x.y.z:port) to the address the handler sees (the loopback
  // fabric turns 127.x back into 12.34.56.78). Default: the peer's address as text.
  std::function<std::string(const boost::asio::ip::tcp::endpoint& peer)> client_address;
  std::size_t max_sessions = 1024;  // beyond: 421 4.3.2 and close (RFC 5321 §3.8)
  // Test hook: called before each I/O step; returning true makes that step fail.
  std::function<bool(IoOp)> fault;
  // netns fabric only: the caller runs on a thread inside one of the fabric's network
  // namespaces, which have no route out of the world, so a world address (12.34.56.78) is as
  // sealed as loopback there (harness/net/netns_fabric.hpp).
  bool in_sealed_namespace = false;
};

// What the factory knows when a connection arrives.
struct ConnectionInfo {
  boost::asio::ip::tcp::endpoint peer;   // the real endpoint
  boost::asio::ip::tcp::endpoint local;
  std::string client_ip;                 // after ServerOptions::client_address
};

// One handler per connection, so a session's state is its own.
using HandlerFactory = std::function<std::unique_ptr<SessionHandler>(const ConnectionInfo&)>;

// Called once per ended session with its final context and transcript (for reports). The
// transcript is the session's own, no longer used by it: an observer may move from it.
using SessionObserver = std::function<void(const SessionContext&, Transcript&,
                                           std::string_view close_reason)>;

class SmtpServer {
 public:
  // Every session on `ioc`, each on its own strand (any number of threads may run `ioc`).
  SmtpServer(boost::asio::io_context& ioc, ServerOptions options, HandlerFactory factory);
  // Sessions spread round robin over `workers`, each of which the caller runs on exactly one
  // thread (so a session needs no strand); the listener runs on the first. Throws
  // std::invalid_argument when `workers` is empty or holds a null.
  SmtpServer(std::vector<boost::asio::io_context*> workers, ServerOptions options,
             HandlerFactory factory);
  ~SmtpServer();  // stop()s
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  // Binds and listens; throws std::system_error naming the address on failure.
  void start();
  // Closes the acceptor and every live session (each gets 421 4.3.2 when it can be sent).
  // Safe from any thread; returns at once (sessions finish on the io_context).
  void stop();
  // Closes and destroys the listeners. Only once no thread runs the server's io_contexts
  // (after stop() and the threads' join): ServerThread does this before destroying them.
  void release_listeners();
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  std::uint16_t port() const { return local_endpoint().port(); }
  void set_observer(SessionObserver observer);
  std::size_t active_sessions() const;
  std::size_t sessions_accepted() const;
  std::size_t sessions_finished() const;

  struct State;  // shared with the sessions (outlives the server while they finish)

 private:
  std::shared_ptr<State> state_;
};

// An SmtpServer in the background on `threads` threads, each running its own io_context (the
// easy way for tests and the runner to have a server). Stops and joins in the destructor.
class ServerThread {
 public:
  ServerThread(ServerOptions options, HandlerFactory factory, int threads = 1);
  ~ServerThread();
  SmtpServer& server() { return *server_; }
  std::uint16_t port() const { return server_->port(); }
  void stop();

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::unique_ptr<SmtpServer> server_;
  std::vector<std::thread> threads_;
};

}  // namespace mailsim::smtp
