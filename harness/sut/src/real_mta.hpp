// What the real-MTA adapters (postfix.cpp, haraka.cpp) share: a run directory, the daemons
// started inside the SUT host's network namespace (net::NetnsFabric::spawn_in/exec_in),
// submission over SMTP on the namespace's loopback with the MTA's id remembered, run_queue()
// polling the MTA's own log until every submission has a logged outcome (real time,
// bounded), status() and logs() from that log, and mailbox() over the stored files.
// The MTA-specific parts — config files, which daemons, the log line format, how a stored
// message is read — stay in the adapters, behind the hooks below.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mailsim/net/netns_fabric.hpp"
#include "mailsim/sut/sut.hpp"
#include "mta_log.hpp"

namespace mailsim::sut {

std::string read_file(const std::filesystem::path& p);

// The files of `dir` (those ending in `extension`, "" = all), sorted by name: Maildir and
// our Haraka store both start names with the arrival time. Empty if `dir` does not exist.
std::vector<std::filesystem::path> sorted_files(const std::filesystem::path& dir,
                                                std::string_view extension = {});

// SIGTERM to the process group `pid` leads (spawn_in makes one per daemon), up to 2 s for it
// to exit, then SIGKILL; always reaps `pid`.
void stop_process_group(pid_t pid);

class RealMtaSut : public Sut {
 public:
  std::string submit(const Submission& submission) final;
  void run_queue(const std::atomic<bool>* cancel) final;
  SubmissionStatus status(std::string_view submission_id) const final;
  std::vector<StoredMessage> mailbox(std::string_view address) const final;
  std::vector<std::string> logs() const final;
  // Idempotent: stop_daemons(), then the run directory goes (kept with
  // MAILSIM_KEEP_RUN_DIR=1). The adapters' destructors call it.
  void stop() final;

 protected:
  // name: "postfix" (kind and message prefix); log_file: the MTA's log in the run directory;
  // submit_port: where it takes relayed mail on the namespace's 127.0.0.1.
  RealMtaSut(std::string name, std::string log_file, std::uint16_t submit_port);

  // ---- hooks
  // provision() has started the MTA: submit() may go ahead.
  virtual bool accepting() const = 0;
  // The MTA's id for the message out of its final "250 …" text; throws SutError if none.
  virtual std::string queue_id(const std::string& reply_text) const = 0;
  virtual AttemptsById parse_log(const std::string& text) const = 0;
  // The stored files of one mailbox, in arrival order, and how one becomes a message
  // (mailbox and at are filled in by mailbox()).
  virtual std::vector<std::filesystem::path> mailbox_files(std::string_view address) const = 0;
  virtual StoredMessage read_stored(const std::filesystem::path& file) const = 0;
  // Log lines beyond the MTA's own log (OpenDKIM's), appended by logs().
  virtual void extra_logs(std::vector<std::string>& /*out*/) const {}
  virtual void stop_daemons() = 0;

  // ---- helpers
  // ctx.netns is set, else SutError naming what the adapter needs.
  void require_netns(const SutContext& ctx, std::string_view what) const;
  // /tmp/mailsim-<name>-XXXXXX
  void make_run_dir();
  void write_file(const std::filesystem::path& p, std::string_view text,
                  std::filesystem::perms perms = std::filesystem::perms::unknown) const;
  void log(std::string line);
  net::CommandResult exec(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  // A daemon in the namespace, stdout/stderr appended to `log_path`, in its own process group.
  pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& log_path) const;
  // Polls `ss -Hltn` in the namespace (each call ≤ 10 s) every 100 ms until a line contains
  // `needle`, for at most `limit`. With `watch`, gives up early when that child has exited
  // (and sets *watch to -1). True when listening.
  bool wait_listening(const std::string& needle, std::chrono::seconds limit,
                      pid_t* watch = nullptr) const;
  std::int64_t now() const { return ctx_.clock ? ctx_.clock->now() : 0; }
  std::filesystem::path log_path() const { return dir_ / log_file_; }

  const std::string name_;
  SutContext ctx_;
  std::filesystem::path dir_;

 private:
  const std::string log_file_;
  const std::uint16_t submit_port_;
  bool stopped_ = false;
  mutable std::mutex mu_;
  std::vector<std::string> submissions_;
  std::vector<std::string> notes_;
};

}  // namespace mailsim::sut
