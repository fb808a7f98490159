// Running programs for the netns fabric: posix_spawn with pipes and a deadline (no shell),
// and joining a thread to a namespace with setns(2).
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/core.h>

#include "mailsim/net/netns_fabric.hpp"

extern char** environ;

namespace mailsim::net {

namespace {

constexpr std::size_t kMaxOutput = 1u << 20;

struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() {
    if (::pipe2(fd, O_CLOEXEC) != 0)
      throw NetnsError(fmt::format("pipe: {}", std::strerror(errno)));
  }
  ~Pipe() { close_all(); }
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
  void close_all() {
    close_end(0);
    close_end(1);
  }
};

std::vector<char*> to_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

// posix_spawnp(argv) with the file actions `fa` (destroyed here), in its own process group
// (so a timeout or a stop kills the program and anything it started) and with no blocked
// signals: the CLI blocks SIGINT/SIGTERM in its threads, and a child that inherited that
// mask could not be stopped with SIGTERM. Returns posix_spawnp's error code (0 = started).
int spawn_own_group(const std::vector<std::string>& argv, posix_spawn_file_actions_t& fa,
                    pid_t& pid) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  auto args = to_argv(argv);
  int rc = ::posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return rc;
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, std::string_view input,
                          std::chrono::milliseconds timeout) {
  if (argv.empty()) throw std::invalid_argument("run_command: empty argv");
  Pipe in, out;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in.fd[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out.fd[1], 2);
  pid_t pid = -1;
  int rc = spawn_own_group(argv, fa, pid);
  if (rc != 0) throw NetnsError(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
  in.close_end(0);
  out.close_end(1);

  CommandResult result;
  // Feed stdin (small: nft rule sets, ip batches) then close it.
  std::size_t written = 0;
  while (written < input.size()) {
    ssize_t n = ::write(in.fd[1], input.data() + written, input.size() - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  in.close_end(1);

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  int status = 0;
  bool reaped = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    pollfd p{out.fd[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 200)));
    if (r < 0 && errno == EINTR) continue;
    if (r > 0) {
      ssize_t n = ::read(out.fd[0], buf, sizeof buf);
      if (n <= 0) break;  // EOF: every writer closed
      if (result.output.size() < kMaxOutput)
        result.output.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    // A daemon the program started (postfix start → master) may keep our pipe open for
    // ever: once the child itself has exited and the pipe is quiet, we are done.
    if (r == 0 && ::waitpid(pid, &status, WNOHANG) == pid) {
      reaped = true;
      break;
    }
  }
  while (!reaped && ::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

void NetnsFabric::enter(const std::string& ns) {
  std::string path = "/run/netns/" + ns;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw NetnsError(fmt::format("cannot open network namespace {}: {}", path, std::strerror(errno)));
  int rc = ::setns(fd, CLONE_NEWNET);
  int err = errno;
  ::close(fd);
  if (rc != 0)
    throw NetnsError(fmt::format("setns({}): {}", ns, std::strerror(err)));
}

CommandResult NetnsFabric::exec_in(const std::string& ns, const std::vector<std::string>& argv,
                                   std::chrono::milliseconds timeout) {
  std::vector<std::string> full = {"ip", "netns", "exec", ns};
  full.insert(full.end(), argv.begin(), argv.end());
  return run_command(full, {}, timeout);
}

CommandResult NetnsFabric::exec(std::string_view host, const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout) const {
  return exec_in(ns_for(host), argv, timeout);
}

pid_t NetnsFabric::spawn_in(const std::string& ns, const std::vector<std::string>& argv,
                            const std::string& log_path) {
  std::vector<std::string> full = {"ip", "netns", "exec", ns};
  full.insert(full.end(), argv.begin(), argv.end());
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  int rc = spawn_own_group(full, fa, pid);
  if (rc != 0)
    throw NetnsError(fmt::format("cannot start {} in {}: {}", argv.empty() ? "" : argv[0], ns,
                                 std::strerror(rc)));
  return pid;
}

pid_t NetnsFabric::spawn(std::string_view host, const std::vector<std::string>& argv,
                         const std::string& log_path) const {
  return spawn_in(ns_for(host), argv, log_path);
}

}  // namespace mailsim::net
