#include "mailsim/smtp/server.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <span>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "mailsim/smtp/status_codes.hpp"
#include "tls_info.hpp"

namespace mailsim::smtp {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

class Session;

struct SmtpServer::State : std::enable_shared_from_this<SmtpServer::State> {
  State(std::vector<asio::io_context*> contexts, bool each_one_thread, ServerOptions opts,
        HandlerFactory f)
      : workers(std::move(contexts)),
        one_thread_per_worker(each_one_thread),
        options(std::move(opts)),
        factory(std::move(f)) {
    // One listener per one-thread worker (SO_REUSEPORT: the kernel deals the connections
    // out), so a connection is accepted, served and freed on one thread with no hand-off;
    // one listener on a shared io_context, whose sessions go round robin on strands.
    const std::size_t listeners = one_thread_per_worker ? workers.size() : 1;
    for (std::size_t i = 0; i < listeners; ++i)
      acceptors.push_back(std::make_unique<tcp::acceptor>(*workers[i]));
  }
  std::vector<asio::io_context*> workers;
  // True when each worker is run by exactly one thread: a session then needs no strand, its
  // io_context already runs its handlers one at a time.
  bool one_thread_per_worker;
  std::size_t next_worker = 0;  // accept_loop only
  ServerOptions options;
  HandlerFactory factory;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;  // acceptors[i] runs on workers[i]
  std::mutex mutex;                                       // guards sessions and observer
  std::map<std::uint64_t, std::weak_ptr<Session>> sessions;
  SessionObserver observer;
  std::uint64_t next_id = 0;
  std::atomic<std::size_t> accepted{0}, finished{0};
  std::size_t starting = 0;  // accepted, not yet registered in `sessions` (guarded by mutex)
  std::atomic<bool> stopping{false};
  tcp::endpoint bound;

  // The executor a connection accepted by listener `index` runs on: that listener's own
  // worker, or (shared io_context) the next strand.
  asio::any_io_executor session_executor(std::size_t index) {
    if (one_thread_per_worker) return workers[index]->get_executor();
    return asio::make_strand(*workers[next_worker++ % workers.size()]);
  }
  asio::awaitable<void> accept_loop(std::shared_ptr<State> self, std::size_t index);
  // On the session's own executor: registers and runs one accepted connection.
  void start_session(std::shared_ptr<State> self, tcp::socket socket, tcp::endpoint peer,
                     asio::any_io_executor executor);
};

// A session's read buffer, taken from and given back to a small per-thread free list: a
// 16 KB allocation per connection (freed a few milliseconds later) kept glibc growing and
// trimming its arena, with page faults, at every message of a one-message-per-connection
// load. Sessions on one thread interleave, so the list holds several; it is bounded.
class ReadBuffer {
 public:
  explicit ReadBuffer(std::size_t size) {
    auto& pool = free_list();
    while (!pool.empty() && data_.empty()) {
      data_ = std::move(pool.back());
      pool.pop_back();
      if (data_.size() != size) data_.clear();  // another server's chunk size: drop it
    }
    if (data_.empty()) data_.resize(size);
  }
  ~ReadBuffer() {
    auto& pool = free_list();
    if (pool.size() < kKept) pool.push_back(std::move(data_));
  }
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;
  std::span<char> span() { return data_; }

 private:
  static constexpr std::size_t kKept = 64;
  static std::vector<std::vector<char>>& free_list() {
    thread_local std::vector<std::vector<char>> pool;
    return pool;
  }
  std::vector<char> data_;
};

// One connection: owns its socket and dialogue, runs on one executor (a strand, or an
// io_context that one thread runs), only moves bytes.
//
// Timeouts: one deadline per session, set before every read, write and handshake, and one
// timer that is only re-armed when it fires early (the deadline moved on meanwhile) or
// when a step needs a shorter deadline than the one armed. Arming a timer for each step and
// cancelling it after cost a timer-queue update and a cancelled completion per SMTP command —
// most of a session's syscalls beyond its reads and writes. Expiry cancels the pending
// operation (it never closes the socket): a timed-out session still owes the client its 421
// (RFC 5321 §3.8, §4.5.3.2.7).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<SmtpServer::State> state, tcp::socket socket, tcp::endpoint peer,
          std::uint64_t id, bool overloaded)
      : state_(std::move(state)),
        socket_(std::move(socket)),
        peer_(peer),
        timer_(socket_.get_executor()),
        id_(id),
        overloaded_(overloaded) {}

  // `self` keeps the session alive for the coroutine's whole life (a coroutine starts
  // lazily: shared_from_this() inside would run after the spawner's pointer is gone).
  asio::awaitable<void> run(std::shared_ptr<Session> self);
  // From any thread: ask the session to say 421 and close (SmtpServer::stop()).
  void stop() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      self->stop_requested_ = true;
      error_code ignored;
      self->socket_.cancel(ignored);
    });
  }

 private:
  bool fault(IoOp op) const { return state_->options.fault && state_->options.fault(op); }
  // Each I/O step: a plain check (fault hook, stop) that sets the deadline and says whether
  // to go on, then the Asio operation awaited directly in run() — a coroutine per step would
  // cost a frame allocation per read and write.
  bool begin_read(error_code& ec);
  bool begin_write(const std::string& bytes, std::chrono::milliseconds within, error_code& ec);
  bool begin_handshake(error_code& ec);
  // The operations themselves, TLS or plain (one awaitable type either way).
  asio::awaitable<std::size_t> async_read(std::span<char> buffer, error_code& ec) {
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    return tls_ ? tls_->async_read_some(asio::buffer(buffer.data(), buffer.size()), token)
                : socket_.async_read_some(asio::buffer(buffer.data(), buffer.size()), token);
  }
  asio::awaitable<std::size_t> async_write(const std::string& bytes, error_code& ec) {
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    return tls_ ? asio::async_write(*tls_, asio::buffer(bytes), token)
                : asio::async_write(socket_, asio::buffer(bytes), token);
  }
  void set_deadline(std::chrono::milliseconds within) { set_deadline_at(Clock::now() + within); }
  void set_deadline_at(Clock::time_point at);
  void arm_timer(Clock::time_point at);
  void on_timer();
  // A step that failed because the deadline passed reports a timeout, not the cancellation.
  void map_timeout(error_code& ec) const {
    if (timed_out_ && ec == asio::error::operation_aborted) ec = asio::error::timed_out;
  }

  std::shared_ptr<SmtpServer::State> state_;
  tcp::socket socket_;
  tcp::endpoint peer_;  // as accept() returned it
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  asio::steady_timer timer_;
  Clock::time_point deadline_ = Clock::time_point::max();
  // What begin_read waits until: command_timeout after the dialogue last made progress (see
  // run()), not after the last read.
  Clock::time_point read_deadline_ = Clock::time_point::max();
  Clock::time_point timer_at_ = Clock::time_point::max();  // when the armed timer fires
  bool timer_armed_ = false;
  bool timed_out_ = false;
  bool finished_ = false;
  std::uint64_t id_;
  bool overloaded_;
  bool stop_requested_ = false;
};

void Session::set_deadline_at(Clock::time_point at) {
  deadline_ = at;
  timed_out_ = false;
  // A later deadline needs nothing: the armed timer will find it moved and wait again.
  if (!timer_armed_ || deadline_ < timer_at_) arm_timer(deadline_);
}

void Session::arm_timer(Clock::time_point at) {
  timer_armed_ = true;
  timer_at_ = at;
  timer_.expires_at(at);  // a wait already pending completes with operation_aborted
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec) self->on_timer();
  });
}

void Session::on_timer() {
  timer_armed_ = false;
  if (finished_) return;
  if (Clock::now() < deadline_) {
    arm_timer(deadline_);
    return;
  }
  timed_out_ = true;
  error_code ignored;
  socket_.cancel(ignored);
}

bool Session::begin_read(error_code& ec) {
  if (fault(IoOp::read)) {
    ec = asio::error::connection_reset;
    return false;
  }
  if (stop_requested_ || state_->stopping) {
    // stop() may have run between two operations, when there was nothing to cancel.
    stop_requested_ = true;
    ec = asio::error::operation_aborted;
    return false;
  }
  set_deadline_at(read_deadline_);
  return true;
}

bool Session::begin_write(const std::string& bytes, std::chrono::milliseconds within,
                          error_code& ec) {
  if (bytes.empty()) return false;
  if (fault(IoOp::write)) {
    ec = asio::error::broken_pipe;
    return false;
  }
  set_deadline(within);
  return true;
}

bool Session::begin_handshake(error_code& ec) {
  if (fault(IoOp::handshake)) {
    ec = asio::error::connection_reset;
    return false;
  }
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *state_->options.tls);
  set_deadline(state_->options.tls_handshake_timeout);
  return true;
}

asio::awaitable<void> Session::run(std::shared_ptr<Session> self) {
  (void)self;  // held for the lifetime of the frame
  error_code ec;
  const auto& opts = state_->options;
  ConnectionInfo info;
  // Both ends are known without asking the kernel again: the peer from accept(), the local
  // end is the listener's own (always a specific address, never a wildcard).
  info.peer = peer_;
  info.local = state_->bound;
  info.client_ip =
      opts.client_address ? opts.client_address(info.peer) : info.peer.address().to_string();
  if (overloaded_) {
    // RFC 5321 §3.8: a server that cannot serve now says 421 and closes — with no enhanced
    // code when the dialogue would send none (RFC 2034; DialogueOptions::enhancedstatuscodes).
    const std::string bye =
        make_reply(421, opts.dialogue.enhancedstatuscodes ? esc::kSystemNotAccepting : "",
                   fmt::format("{} Too many connections, try again later", opts.dialogue.hostname))
            .wire();
    if (begin_write(bye, opts.command_timeout, ec)) co_await async_write(bye, ec);
  } else {
    std::unique_ptr<SessionHandler> handler = state_->factory ? state_->factory(info) : nullptr;
    if (!handler) handler = std::make_unique<AcceptAllHandler>();
    DialogueOptions dopts = opts.dialogue;
    dopts.starttls = opts.tls != nullptr;
    ServerDialogue dialogue(*handler, dopts);
    DialogueOutput out = dialogue.start(info.client_ip);
    ReadBuffer buf(std::max<std::size_t>(opts.read_chunk, 512));
    // The read deadline moves forward only when the dialogue makes progress: a complete
    // command line, a complete message line, or a read of kProgressBytes or more in DATA (so
    // one huge line still counts). Moving it on every read let a client that sends a byte
    // every few seconds hold a session for ever; now a command or a message line must be
    // complete within command_timeout — Postfix's smtpd_per_record_deadline, and the
    // per-command timeouts of RFC 5321 §4.5.3.2 (a DATA block, §4.5.3.2.5, is a line or a
    // read here). A write only follows progress, and a handshake is progress.
    constexpr std::size_t kProgressBytes = 512;
    bool progress = true;  // the greeting: the first command gets the whole timeout
    for (;;) {
      if (state_->stopping) stop_requested_ = true;
      if (stop_requested_ && !dialogue.closed()) {
        DialogueOutput bye = dialogue.shutdown();
        out.reply += bye.reply;
        out.close = true;
      }
      if (begin_write(out.reply, opts.command_timeout, ec)) co_await async_write(out.reply, ec);
      map_timeout(ec);
      if (ec) {
        dialogue.peer_closed(fmt::format("write failed: {}", ec.message()));
        break;
      }
      if (out.close || dialogue.closed()) break;
      if (out.start_tls) {
        if (begin_handshake(ec))
          co_await tls_->async_handshake(asio::ssl::stream_base::server,
                                         asio::redirect_error(asio::use_awaitable, ec));
        map_timeout(ec);
        if (ec) {
          dialogue.peer_closed(fmt::format("TLS handshake failed: {}", ec.message()));
          break;
        }
        dialogue.tls_started(detail::tls_info_of(tls_->native_handle()));
        progress = true;
      }
      if (progress) read_deadline_ = Clock::now() + opts.command_timeout;
      std::size_t n = 0;
      if (begin_read(ec)) n = co_await async_read(buf.span(), ec);
      map_timeout(ec);
      if (ec == asio::error::timed_out) {
        // RFC 5321 §4.5.3.2.7: the wait for a command timed out.
        out = dialogue.timeout();
        ec = {};
        // Best effort for the 421.
        if (begin_write(out.reply, std::chrono::seconds(5), ec))
          co_await async_write(out.reply, ec);
        break;
      }
      if (ec == asio::error::operation_aborted && stop_requested_) {
        out = {};
        ec = {};
        continue;  // top of loop says 421 and closes
      }
      if (ec) {
        dialogue.peer_closed(ec == asio::error::eof ? std::string("peer closed the connection")
                                                    : fmt::format("read failed: {}", ec.message()));
        break;
      }
      const bool was_in_data = dialogue.state() == DialogueState::data;
      out = dialogue.feed(std::string_view(buf.span().data(), n));
      progress = out.lines > 0 ||
                 (n >= kProgressBytes && (was_in_data || dialogue.state() == DialogueState::data));
    }
    SessionObserver observer;
    {
      std::lock_guard lock(state_->mutex);
      observer = state_->observer;
    }
    if (observer) {
      Transcript transcript = dialogue.take_transcript();
      observer(dialogue.context(), transcript, dialogue.close_reason());
    }
  }
  finished_ = true;
  timer_.cancel();  // releases the timer's hold on this session
  // No TLS close_notify wait: a peer that vanished must not hold the session open. close()
  // alone sends the FIN (no other descriptor shares the socket); a shutdown() first was one
  // more syscall per connection for nothing.
  socket_.close(ec);
  {
    std::lock_guard lock(state_->mutex);
    ++state_->finished;  // before the erase: active()==0 implies every finish is counted
    state_->sessions.erase(id_);
  }
}

asio::awaitable<void> SmtpServer::State::accept_loop(std::shared_ptr<State> self,
                                                     std::size_t index) {
  tcp::acceptor& acceptor = *acceptors[index];
  for (;;) {
    error_code ec;
    asio::any_io_executor executor = session_executor(index);
    tcp::endpoint peer;
    tcp::socket socket = co_await acceptor.async_accept(
        executor, peer, asio::redirect_error(asio::use_awaitable, ec));
    if (stopping || !acceptor.is_open()) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;  // e.g. EMFILE or a reset before accept: keep serving
    }
    ++accepted;
    if (one_thread_per_worker) {
      // Already on the thread that runs it: the session, its coroutine frame and all it
      // allocates are made and freed by one thread (memory freed by another thread than
      // the one that allocated it goes back under that thread's malloc arena lock).
      start_session(self, std::move(socket), peer, executor);
      continue;
    }
    {
      std::lock_guard lock(mutex);
      ++starting;  // active from now on, so stop() waits for it
    }
    asio::post(executor, [self, socket = std::move(socket), peer, executor]() mutable {
      self->start_session(self, std::move(socket), peer, executor);
    });
  }
}

void SmtpServer::State::start_session(std::shared_ptr<State> self, tcp::socket socket,
                                      tcp::endpoint peer, asio::any_io_executor executor) {
  std::shared_ptr<Session> session;
  {
    std::lock_guard lock(mutex);
    const bool overloaded = sessions.size() >= options.max_sessions;
    const std::uint64_t id = next_id++;
    session = std::make_shared<Session>(std::move(self), std::move(socket), peer, id, overloaded);
    sessions[id] = session;
    if (!one_thread_per_worker) --starting;
  }
  asio::co_spawn(executor, session->run(session), asio::detached);
}

SmtpServer::SmtpServer(asio::io_context& ioc, ServerOptions options, HandlerFactory factory)
    : state_(std::make_shared<State>(std::vector<asio::io_context*>{&ioc}, false,
                                     std::move(options), std::move(factory))) {}

SmtpServer::SmtpServer(std::vector<asio::io_context*> workers, ServerOptions options,
                       HandlerFactory factory)
    : state_(std::make_shared<State>(
          [&] {
            if (workers.empty() ||
                std::find(workers.begin(), workers.end(), nullptr) != workers.end())
              throw std::invalid_argument("smtp server: no io_context to run sessions on");
            return std::move(workers);
          }(),
          true, std::move(options), std::move(factory))) {}

SmtpServer::~SmtpServer() { stop(); }

void SmtpServer::start() {
  auto& o = state_->options;
  error_code ec;
  auto address = asio::ip::make_address(o.address, ec);
  if (ec) throw std::system_error(ec, fmt::format("smtp server: bad address '{}'", o.address));
  // NETWORK RULE: mailsim servers listen on loopback only.
  if (!address.is_loopback() && !o.in_sealed_namespace)
    throw std::system_error(std::make_error_code(std::errc::permission_denied),
                            fmt::format("smtp server: {} is not a loopback address", o.address));
  // Several listeners share one port with SO_REUSEPORT. Linux would let any other socket of
  // this user that sets it join the group and take a share of the connections — another
  // mailsim on the same --listen port would split the mail silently instead of failing. So
  // the port is first claimed by a plain bind, which any holder (group or not) refuses with
  // "address in use"; that also picks the ephemeral port when 0 was asked for.
  using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
  tcp::endpoint endpoint(address, o.port);
  auto& acceptors = state_->acceptors;
  if (acceptors.size() > 1) {
    tcp::acceptor probe(acceptors.front()->get_executor());
    probe.open(endpoint.protocol(), ec);
    if (!ec) probe.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) probe.bind(endpoint, ec);
    if (!ec) endpoint = probe.local_endpoint(ec);
    if (ec)
      throw std::system_error(
          ec, fmt::format("smtp server: cannot listen on {}:{}", o.address, o.port));
  }
  for (std::size_t i = 0; i < acceptors.size() && !ec; ++i) {
    tcp::acceptor& acc = *acceptors[i];
    acc.open(endpoint.protocol(), ec);
    if (!ec) acc.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && acceptors.size() > 1) acc.set_option(reuse_port(true), ec);
    if (!ec) acc.bind(endpoint, ec);
    if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec && i == 0) endpoint = acc.local_endpoint(ec);
  }
  if (ec) {
    for (auto& acc : acceptors) acc->close();
    throw std::system_error(ec,
                            fmt::format("smtp server: cannot listen on {}:{}", o.address, o.port));
  }
  state_->bound = endpoint;
  for (std::size_t i = 0; i < acceptors.size(); ++i)
    asio::co_spawn(acceptors[i]->get_executor(), state_->accept_loop(state_, i), asio::detached);
}

void SmtpServer::stop() {
  if (state_->stopping.exchange(true)) return;
  // Each listener lives on its io_context; close it there.
  for (std::size_t i = 0; i < state_->acceptors.size(); ++i)
    if (state_->acceptors[i])  // not yet released
      asio::post(state_->acceptors[i]->get_executor(), [state = state_, i] {
        error_code ec;
        if (state->acceptors[i]) state->acceptors[i]->close(ec);
      });
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(state_->mutex);
    for (auto& [id, weak] : state_->sessions)
      if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  for (auto& s : live) s->stop();
}

void SmtpServer::release_listeners() {
  for (auto& acceptor : state_->acceptors) {
    error_code ec;
    acceptor->close(ec);
    acceptor.reset();
  }
}

tcp::endpoint SmtpServer::local_endpoint() const { return state_->bound; }

void SmtpServer::set_observer(SessionObserver observer) {
  std::lock_guard lock(state_->mutex);
  state_->observer = std::move(observer);
}

std::size_t SmtpServer::active_sessions() const {
  std::lock_guard lock(state_->mutex);
  return state_->sessions.size() + state_->starting;
}
std::size_t SmtpServer::sessions_accepted() const { return state_->accepted; }
std::size_t SmtpServer::sessions_finished() const { return state_->finished; }

ServerThread::ServerThread(ServerOptions options, HandlerFactory factory, int threads) {
  // One io_context per thread. The hint says one thread runs it — a handler a session posts
  // for itself stays on its thread's private queue, with no lock hand-off or wake-up — and
  // that its sockets' I/O needs no locks: a socket, its timer and its listener are only ever
  // touched by that thread (stop() and the listeners' close are posted to it; the scheduler
  // and registrations still lock).
  std::vector<asio::io_context*> workers;
  for (int i = 0; i < std::max(1, threads); ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO));
    workers.push_back(contexts_.back().get());
    // A worker with no session yet must not return from run() at once.
    guards_.emplace_back(asio::make_work_guard(*contexts_.back()));
  }
  server_ =
      std::make_unique<SmtpServer>(std::move(workers), std::move(options), std::move(factory));
  server_->start();
  for (auto& ctx : contexts_)
    threads_.emplace_back([c = ctx.get()] {
      // Named so `top -H`, `perf report --comm` and gdb tell the server's threads apart.
      pthread_setname_np(pthread_self(), "mailsim-smtp");
      c->run();
    });
}

ServerThread::~ServerThread() {
  stop();
  // Coroutines left on a stopped io_context (an accept loop, a session that never saw its
  // end) hold the server's state until their io_context is destroyed; the listeners in it
  // must not outlive their own io_contexts, so they go first, while no thread runs them.
  server_->release_listeners();
  server_.reset();
  contexts_.clear();
}

void ServerThread::stop() {
  if (threads_.empty()) return;
  server_->stop();
  // Sessions say 421 and close; give them a moment, then stop the loops regardless.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (server_->active_sessions() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  guards_.clear();
  for (auto& ctx : contexts_) ctx->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace mailsim::smtp
