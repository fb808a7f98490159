// What bench/smtp and the smtp-source torture test (fakes/mta/src/mta_torture_test.cpp)
// share: the guide's world where every check passes, a DKIM-signed message in the form
// smtp-source -F sends, and a bounded run of Postfix's smtp-source against a loopback port.
// Header-only: the test includes it from the source tree (fakes/mta/CMakeLists.txt).
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "mailsim/auth/dkim.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim::bench {

inline constexpr std::int64_t kGuideNow = 1741500000;  // the guide's date; DKIM t=
inline constexpr const char* kSmtpSource = "/usr/sbin/smtp-source";
inline constexpr const char* kSmtpSink = "/usr/sbin/smtp-sink";
inline constexpr const char* kVirtualClient = "12.34.56.78";  // the guide's mx.nodeseek.com

// The guide's world (reference/posteio-guide.md §2, §3, §6): nodeseek.com, mx 12.34.56.78,
// SPF "a mx -all", DMARC p=reject, PTR → mx.nodeseek.com, a DKIM key at s1 — so a message
// signed with `key` and sent from 12.34.56.78 passes iprev, SPF, DKIM and DMARC.
struct GuideWorld {
  world::World w;
  auth::DkimKey key;
  explicit GuideWorld(int key_bits = 2048, std::uint64_t seed = 42) {
    w.add_zone("nodeseek.com");
    w.add_zone("56.34.12.in-addr.arpa");
    w.add_zone("zen.spamhaus.org");  // queried at connect; the client is not listed
    w.add(world::make_a("mx.nodeseek.com", kVirtualClient));
    w.add(world::make_a("nodeseek.com", kVirtualClient));
    w.add(world::make_mx("nodeseek.com", 10, "mx.nodeseek.com"));
    w.add(world::make_txt("nodeseek.com", "v=spf1 a mx -all"));
    w.add(world::make_txt("mx.nodeseek.com", "v=spf1 a -all"));
    w.add(world::make_txt("_dmarc.nodeseek.com", "v=DMARC1; p=reject"));
    w.add(world::make_ptr("78.56.34.12.in-addr.arpa", "mx.nodeseek.com"));
    key = auth::generate_dkim_key("nodeseek.com", "s1", seed, key_bits);
    w.add(world::make_txt("s1._domainkey.nodeseek.com", key.public_txt));
  }
};

// CRLF → LF. smtp-source -F appends CRLF to each line it reads (and dot-stuffs), so a file
// holding the signed CRLF text with LF line ends goes on the wire as the text that was signed.
inline std::string lf_line_ends(std::string_view crlf) {
  std::string lf;
  lf.reserve(crlf.size());
  for (std::size_t i = 0; i < crlf.size(); ++i)
    if (!(crlf[i] == '\r' && i + 1 < crlf.size() && crlf[i + 1] == '\n')) lf += crlf[i];
  return lf;
}

// CPU seconds, split: user space (our code, libraries) and kernel (mostly loopback TCP).
struct Cpu {
  double user = 0, sys = 0;
  double total() const { return user + sys; }
  Cpu operator-(const Cpu& o) const { return {user - o.user, sys - o.sys}; }
};

inline Cpu cpu_of(const struct rusage& u) {
  return {static_cast<double>(u.ru_utime.tv_sec) + static_cast<double>(u.ru_utime.tv_usec) / 1e6,
          static_cast<double>(u.ru_stime.tv_sec) + static_cast<double>(u.ru_stime.tv_usec) / 1e6};
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A child process we started (stdout and stderr to `output`); killed, by its pid only, when
// still running at destruction.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::filesystem::path& output) {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      FILE* out = std::fopen(output.c_str(), "w");
      if (out) {
        dup2(fileno(out), 1);
        dup2(fileno(out), 2);
      }
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      std::perror("execv");
      _exit(127);
    }
  }
  ~Child() { kill_now(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Waits until the child exits or `cap` passes (then kills it); the exit status (128 + the
  // signal when killed by one), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds cap) {
    auto deadline = std::chrono::steady_clock::now() + cap;
    while (pid_ > 0) {
      int status = 0;
      struct rusage usage {};
      pid_t r = wait4(pid_, &status, WNOHANG, &usage);
      if (r == pid_) {
        pid_ = -1;
        cpu_ = cpu_of(usage);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        kill_now();
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return std::nullopt;
  }
  // CPU the child used (valid once wait() saw it exit).
  Cpu cpu() const { return cpu_; }
  void terminate() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    if (!wait(std::chrono::seconds(2))) kill_now();
  }

 private:
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  pid_t pid_ = -1;
  Cpu cpu_;
};

struct SmtpSourceOptions {
  int messages = 4000;  // smtp-source -m: counted across all sessions
  int sessions = 8;     // -s: parallel sessions
  bool reuse = false;   // -d: several messages per connection
  std::chrono::milliseconds cap = std::chrono::seconds(120);  // killed past it
  std::filesystem::path message_file;                         // -F, see lf_line_ends
  std::filesystem::path log;                                  // its stdout and stderr
};

// What one smtp-source run took: wall seconds and the load client's own CPU.
struct Load {
  double seconds = 0;
  Cpu client;
};

// Runs smtp-source against 127.0.0.1:port (envelope admin@nodeseek.com → someone@gmail.com,
// HELO mx.nodeseek.com). Throws with smtp-source's own output when it fails or runs past the
// cap (it is killed then).
inline Load run_smtp_source(const SmtpSourceOptions& o, std::uint16_t port,
                            const std::string& label) {
  std::vector<std::string> argv = {kSmtpSource,
                                   "-s",
                                   std::to_string(o.sessions),
                                   "-m",
                                   std::to_string(o.messages),
                                   "-f",
                                   "admin@nodeseek.com",
                                   "-t",
                                   "someone@gmail.com",
                                   "-M",
                                   "mx.nodeseek.com",
                                   "-F",
                                   o.message_file.string()};
  if (o.reuse) argv.push_back("-d");
  argv.push_back(fmt::format("127.0.0.1:{}", port));
  auto t0 = std::chrono::steady_clock::now();
  Child source(argv, o.log);
  std::optional<int> status = source.wait(o.cap);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!status)
    throw std::runtime_error(fmt::format("smtp-source against {} ran past the {} ms cap: {}", label,
                                         o.cap.count(), slurp(o.log)));
  if (*status != 0)
    throw std::runtime_error(
        fmt::format("smtp-source against {} exited {}: {}", label, *status, slurp(o.log)));
  return {elapsed, source.cpu()};
}

}  // namespace mailsim::bench
