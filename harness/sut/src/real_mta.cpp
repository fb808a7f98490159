// The shared core of the real-MTA adapters (real_mta.hpp).
#include "real_mta.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "mailsim/smtp/client.hpp"

namespace mailsim::sut {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> sorted_files(const fs::path& dir, std::string_view extension) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (extension.empty() || e.path().extension() == extension) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

void stop_process_group(pid_t pid) {
  if (pid <= 0) return;
  // The process group: `ip netns exec` and the daemon it execs.
  ::kill(-pid, SIGTERM);
  bool gone = false;
  for (int i = 0; i < 40 && !gone; ++i) {
    gone = ::waitpid(pid, nullptr, WNOHANG) == pid;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!gone) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
}

RealMtaSut::RealMtaSut(std::string name, std::string log_file, std::uint16_t submit_port)
    : name_(std::move(name)), log_file_(std::move(log_file)), submit_port_(submit_port) {}

void RealMtaSut::require_netns(const SutContext& ctx, std::string_view what) const {
  if (ctx.netns.empty())
    throw SutError(fmt::format(
        "--sut {} runs a real {} and needs --fabric netns (a network namespace per world host); "
        "the loopback fabric cannot give it the world's addresses",
        name_, what));
}

void RealMtaSut::make_run_dir() {
  std::string tmpl = "/tmp/mailsim-" + name_ + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw SutError(name_ + ": cannot create a run directory in /tmp");
  dir_ = tmpl;
}

void RealMtaSut::write_file(const fs::path& p, std::string_view text, fs::perms perms) const {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw SutError(fmt::format("{}: cannot write {}", name_, p.string()));
  out.close();
  if (perms != fs::perms::unknown) fs::permissions(p, perms);
}

void RealMtaSut::log(std::string line) {
  std::lock_guard lock(mu_);
  notes_.push_back(std::move(line));
}

net::CommandResult RealMtaSut::exec(const std::vector<std::string>& argv,
                                    std::chrono::milliseconds timeout) const {
  return net::NetnsFabric::exec_in(ctx_.netns, argv, timeout);
}

pid_t RealMtaSut::spawn(const std::vector<std::string>& argv, const fs::path& log_path) const {
  try {
    return net::NetnsFabric::spawn_in(ctx_.netns, argv, log_path.string());
  } catch (const net::NetnsError& e) {
    throw SutError(fmt::format("{}: {}", name_, e.what()));
  }
}

bool RealMtaSut::wait_listening(const std::string& needle, std::chrono::seconds limit,
                                pid_t* watch) const {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = exec({"ss", "-Hltn"}, std::chrono::seconds(10));
    if (r.output.find(needle) != std::string::npos) return true;
    if (watch && *watch > 0 && ::waitpid(*watch, nullptr, WNOHANG) == *watch) {
      *watch = -1;  // the daemon died: no point waiting for its port
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string RealMtaSut::submit(const Submission& sub) {
  if (!accepting()) throw SutError(name_ + ": submit() before provision()");
  smtp::ClientOptions o;
  o.host = "127.0.0.1";
  o.port = submit_port_;
  o.helo_name = "localhost";
  o.tls = smtp::TlsMode::never;
  o.connect_timeout = o.command_timeout = o.data_timeout =
      std::chrono::milliseconds(ctx_.io_timeout_ms * 3);
  smtp::OutgoingMessage m;
  m.mail_from = sub.envelope.mail_from;
  m.rcpt_to = sub.envelope.rcpt_to;
  m.data = sub.data;
  const std::string ns = ctx_.netns;
  smtp::ClientResult r;
  std::thread t([&] {
    try {
      net::NetnsFabric::enter(ns);  // 127.0.0.1 of the SUT's namespace, not ours
      r = smtp::send_mail(o, m);
    } catch (const std::exception& e) {
      r.error = e.what();
    }
  });
  t.join();
  if (!r.accepted) {
    const smtp::Reply* f = r.final_reply();
    throw SutError(fmt::format("{} refused the submission: {}", name_,
                               !r.error.empty() ? r.error : f ? f->summary() : "no reply"));
  }
  std::string text;
  for (const auto& l : r.data_end.lines) text += l;
  std::string id = queue_id(text);
  {
    std::lock_guard lock(mu_);
    submissions_.push_back(id);
  }
  log(fmt::format("{}: queued {} for {}", name_, id, fmt::join(sub.envelope.rcpt_to, ", ")));
  return id;
}

void RealMtaSut::run_queue(const std::atomic<bool>* cancel) {
  // Real time: the MTA delivers at once; a blocked port costs its connect timeout.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(ctx_.io_timeout_ms * 4 + 15000);
  for (;;) {
    const AttemptsById parsed = parse_log(read_file(log_path()));
    bool all = true;
    {
      std::lock_guard lock(mu_);
      for (const auto& id : submissions_) all = all && has_attempt(parsed, id);
    }
    if (all || std::chrono::steady_clock::now() > deadline || (cancel && cancel->load())) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

SubmissionStatus RealMtaSut::status(std::string_view id) const {
  return status_from_attempts(parse_log(read_file(log_path())), std::string(id), now());
}

std::vector<StoredMessage> RealMtaSut::mailbox(std::string_view address) const {
  std::vector<StoredMessage> out;
  if (dir_.empty()) return out;
  for (const auto& f : mailbox_files(address)) {
    StoredMessage m = read_stored(f);
    m.mailbox = std::string(address);
    m.at = now();
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<std::string> RealMtaSut::logs() const {
  std::vector<std::string> out;
  {
    std::lock_guard lock(mu_);
    out = notes_;
  }
  if (dir_.empty()) return out;
  std::stringstream ss(read_file(log_path()));
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  extra_logs(out);
  return out;
}

void RealMtaSut::stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_daemons();
  if (!dir_.empty() && !std::getenv("MAILSIM_KEEP_RUN_DIR")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

}  // namespace mailsim::sut
