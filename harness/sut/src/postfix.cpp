// `--sut postfix`: Postfix + OpenDKIM inside the SUT's network namespace (postfix.hpp).
#include "mailsim/sut/postfix.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "mailsim/net/netns_fabric.hpp"
#include "mailsim/smtp/client.hpp"
#include "postfix_log.hpp"

namespace mailsim::sut {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, std::string_view text, fs::perms perms = fs::perms::unknown) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw SutError(fmt::format("postfix: cannot write {}", p.string()));
  out.close();
  if (perms != fs::perms::unknown) fs::permissions(p, perms);
}

// "v=DKIM1; h=sha256; k=rsa; p=MIIB…" out of opendkim-genkey's zone-file snippet
// (`s._domainkey IN TXT ( "v=DKIM1; …" "p=…" "…" ) ; comment`): the quoted strings joined.
std::string dkim_txt_from_genkey(const std::string& snippet) {
  std::string out;
  bool in = false;
  for (char c : snippet.substr(0, snippet.find(';', snippet.find(')')))) {
    if (c == '"') {
      in = !in;
      continue;
    }
    if (in) out += c;
  }
  return out;
}

}  // namespace

std::string postfix_main_cf(const PostfixConfig& c) {
  const std::string& d = c.run_dir;
  std::string cf = fmt::format(R"(# mailsim --sut postfix: the guide's server (reference/posteio-guide.md §2–§6)
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = {host}
mydomain = {domain}
myorigin = $mydomain
# The domain's mail goes to virtual(8) Maildirs, so no Unix accounts are needed.
mydestination = localhost
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = texthash:{d}/config/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 100
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = all
inet_protocols = {proto}
# Relay ACL: only the namespace itself (the submission the runner makes) may relay;
# everyone else may only deliver to our domain (RFC 5321 §3.6 — no open relay).
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = $myhostname ESMTP
biff = no
append_dot_mydomain = no
disable_vrfy_command = yes
smtputf8_enable = no
# The mail log without syslog (Postfix ≥ 3.4: postlogd).
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
# DKIM signing by OpenDKIM as a milter (guide §6). A signer that is down holds mail back
# instead of sending it unsigned.
smtpd_milters = inet:127.0.0.1:8891
non_smtpd_milters = $smtpd_milters
milter_default_action = tempfail
milter_protocol = 6
# Deadlines of the world (every read bounded): a blocked port 25 must not hold a probe for
# Postfix's default 30 s.
smtp_connect_timeout = {cto}s
smtp_helo_timeout = {to}s
smtp_mail_timeout = {to}s
smtp_rcpt_timeout = {to}s
smtp_data_init_timeout = {to}s
smtp_data_done_timeout = {to}s
# A dual-stack SUT tries AAAA first, as the builtin does (RFC 6724 prefers IPv6), so the
# ipv6.* breakages reach the receivers over IPv6.
smtp_address_preference = {pref}
# Probes are single messages: send at once, no connection caching between them.
smtp_connection_cache_on_demand = no
)",
                               fmt::arg("d", d), fmt::arg("host", c.host_name),
                               fmt::arg("domain", c.domain),
                               fmt::arg("proto", c.ipv6 ? "all" : "ipv4"),
                               fmt::arg("pref", c.ipv6 ? "ipv6" : "ipv4"),
                               fmt::arg("to", std::max<std::uint32_t>(1, c.io_timeout_ms / 1000)),
                               fmt::arg("cto", std::max<std::uint32_t>(1, c.io_timeout_ms / 1000)));
  if (c.tls)
    cf += fmt::format(R"(# TLS with the run's CA (guide §5): offered inbound, used outbound when offered.
smtpd_tls_cert_file = {d}/tls/server.pem
smtpd_tls_key_file = {d}/tls/server.key
smtpd_tls_security_level = may
smtpd_tls_received_header = yes
smtp_tls_security_level = may
smtp_tls_CAfile = {d}/tls/ca.pem
smtp_tls_loglevel = 1
)",
                      fmt::arg("d", d));
  else
    cf += "smtpd_tls_security_level = none\nsmtp_tls_security_level = none\n";
  return cf;
}

std::string postfix_master_cf() {
  // Debian's master.cf minus the chroot (the run's files live outside any chroot) and
  // minus the services a test run never uses; postlog carries maillog_file.
  return R"(# service type  private unpriv  chroot  wakeup  maxproc command
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
)";
}

namespace {

class PostfixSut final : public Sut {
 public:
  ~PostfixSut() override { stop(); }
  std::string kind() const override { return "postfix"; }

  void start(const SutContext& ctx) override {
    if (ctx.netns.empty())
      throw SutError(
          "--sut postfix runs a real Postfix and needs --fabric netns (a network namespace per "
          "world host); the loopback fabric cannot give it the world's addresses");
    for (const char* tool : {"/usr/sbin/postfix", "/usr/sbin/opendkim", "/usr/sbin/opendkim-genkey"})
      if (::access(tool, X_OK) != 0)
        throw SutError(fmt::format(
            "--sut postfix needs {} (Debian packages postfix, opendkim, opendkim-tools: "
            "scripts/bootstrap)",
            tool));
    ctx_ = ctx;
    char tmpl[] = "/tmp/mailsim-postfix-XXXXXX";
    if (!::mkdtemp(tmpl)) throw SutError("postfix: cannot create a run directory in /tmp");
    dir_ = tmpl;
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    for (auto sub : {"config", "tls", "dkim", "mail", "data", "queue"}) fs::create_directories(dir_ / sub);
    if (!ctx.tls.empty()) {
      write_file(dir_ / "tls" / "server.pem", ctx.tls.server_cert_pem);
      write_file(dir_ / "tls" / "server.key", ctx.tls.server_key_pem,
                 fs::perms::owner_read | fs::perms::owner_write);
      write_file(dir_ / "tls" / "ca.pem", ctx.tls.ca_cert_pem);
    }
    log("postfix: run directory " + dir_.string() + " in namespace " + ctx.netns);
  }

  ProvisionResult provision(const DomainSpec& spec) override {
    if (dir_.empty()) throw SutError("postfix: provision() before start()");
    if (started_) throw SutError("postfix: one domain per run (already provisioned)");
    domain_ = spec.domain;
    mailboxes_ = spec.mailboxes;
    // poste.io names its selectors s<yyyymmdd><n>; the simulated date keeps it stable.
    const std::string selector =
        spec.dkim_selector.empty() ? fmt::format("s20260101{}", ctx_.seed % 1000) : spec.dkim_selector;
    const int bits = spec.dkim_bits > 0 ? spec.dkim_bits : 2048;
    const fs::path kd = dir_ / "dkim";
    auto gen = net::run_command({"/usr/sbin/opendkim-genkey", "-b", std::to_string(bits), "-d",
                                 domain_, "-s", selector, "-D", kd.string()},
                                {}, std::chrono::seconds(60));
    if (gen.exit_code != 0) throw SutError("postfix: opendkim-genkey failed: " + gen.output);
    const std::string txt = dkim_txt_from_genkey(read_file(kd / (selector + ".txt")));
    if (txt.find("p=") == std::string::npos)
      throw SutError("postfix: no p= in opendkim-genkey's record: " + read_file(kd / (selector + ".txt")));

    // OpenDKIM: sign for the domain with the per-run key (guide §6), milter on loopback.
    write_file(kd / "KeyTable", fmt::format("{0}._domainkey.{1} {1}:{0}:{2}/{0}.private\n",
                                            selector, domain_, kd.string()));
    write_file(kd / "SigningTable", fmt::format("*@{0} {1}._domainkey.{0}\n", domain_, selector));
    write_file(kd / "TrustedHosts", "127.0.0.1\n::1\n");
    write_file(kd / "opendkim.conf",
               fmt::format("Syslog no\nLogWhy yes\nMode s\nCanonicalization relaxed/relaxed\n"
                           "KeyTable file:{0}/KeyTable\nSigningTable refile:{0}/SigningTable\n"
                           "InternalHosts refile:{0}/TrustedHosts\nSocket inet:8891@127.0.0.1\n"
                           "PidFile {0}/opendkim.pid\nUserID root\nRequireSafeKeys no\n"
                           "OversignHeaders From\n",
                           kd.string()));
    opendkim_pid_ = spawn({"/usr/sbin/opendkim", "-f", "-x", (kd / "opendkim.conf").string()},
                          dir_ / "opendkim.log");

    // Postfix with its own config, queue and data directories.
    std::string vmail;
    for (const auto& m : mailboxes_) {
      auto at = m.find('@');
      vmail += fmt::format("{} {}/{}/\n", m, m.substr(at + 1), m.substr(0, at));
    }
    write_file(dir_ / "config" / "vmailbox", vmail);
    PostfixConfig pc;
    pc.run_dir = dir_.string();
    pc.host_name = ctx_.host_name;
    pc.domain = domain_;
    pc.mailboxes = mailboxes_;
    pc.tls = !ctx_.tls.empty();
    pc.io_timeout_ms = ctx_.io_timeout_ms;
    if (ctx_.world)
      if (const auto* h = ctx_.world->host(ctx_.host_name))
        for (const auto& a : h->addresses) pc.ipv6 = pc.ipv6 || a.find(':') != std::string::npos;
    write_file(dir_ / "config" / "main.cf", postfix_main_cf(pc));
    write_file(dir_ / "config" / "master.cf", postfix_master_cf());
    ::chown(dir_.c_str(), 0, 0);
    if (struct passwd* pw = ::getpwnam("postfix")) {
      ::chown((dir_ / "data").c_str(), pw->pw_uid, pw->pw_gid);
    }
    if (struct passwd* pw = ::getpwnam("nobody")) {
      ::chown((dir_ / "mail").c_str(), pw->pw_uid, pw->pw_gid);
    }
    // Wait for the milter socket before Postfix takes mail (it would tempfail otherwise).
    wait_for_port(8891);
    auto r = exec({"/usr/sbin/postfix", "-c", (dir_ / "config").string(), "start"});
    if (r.exit_code != 0)
      throw SutError("postfix: `postfix start` failed in " + ctx_.netns + ": " + r.output);
    started_ = true;
    wait_for_port(25);
    log(fmt::format("postfix: started for {} (DKIM {}._domainkey, {} bits)", domain_, selector, bits));

    ProvisionResult pr;
    DkimPublication pub;
    pub.domain = domain_;
    pub.selector = selector;
    pub.record_name = selector + "._domainkey." + domain_;
    pub.txt = txt;
    pub.algorithm = "rsa-sha256";
    pub.bits = bits;
    pr.dkim.push_back(pub);
    return pr;
  }

  std::string submit(const Submission& sub) override {
    if (!started_) throw SutError("postfix: submit() before provision()");
    smtp::ClientOptions o;
    o.host = "127.0.0.1";
    o.port = 25;
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
        net::NetnsFabric::enter(ns);
        r = smtp::send_mail(o, m);
      } catch (const std::exception& e) {
        r.error = e.what();
      }
    });
    t.join();
    if (!r.accepted) {
      const smtp::Reply* f = r.final_reply();
      throw SutError(fmt::format("postfix refused the submission: {}",
                                 !r.error.empty() ? r.error : f ? f->summary() : "no reply"));
    }
    // "250 2.0.0 Ok: queued as 4Qx1yZ2abcz"
    std::string text;
    for (const auto& l : r.data_end.lines) text += l;
    auto pos = text.find("queued as ");
    if (pos == std::string::npos) throw SutError("postfix: no queue id in '" + text + "'");
    std::string id = text.substr(pos + 10);
    id = id.substr(0, id.find_first_of(" \r\n"));
    {
      std::lock_guard lock(mu_);
      submissions_.push_back(id);
    }
    log(fmt::format("postfix: queued {} for {}", id, fmt::join(sub.envelope.rcpt_to, ", ")));
    return id;
  }

  void run_queue(const std::atomic<bool>* cancel) override {
    // Real time: Postfix delivers at once; a blocked port costs smtp_connect_timeout.
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(ctx_.io_timeout_ms * 4 + 15000);
    for (;;) {
      auto parsed = parse_postfix_log(read_file(dir_ / "maillog"));
      bool all = true;
      {
        std::lock_guard lock(mu_);
        for (const auto& id : submissions_) all = all && parsed.final(id);
      }
      if (all || std::chrono::steady_clock::now() > deadline || (cancel && cancel->load())) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  SubmissionStatus status(std::string_view id) const override {
    auto parsed = parse_postfix_log(read_file(dir_ / "maillog"));
    SubmissionStatus st = parsed.status(std::string(id), ctx_.clock ? ctx_.clock->now() : 0);
    return st;
  }

  std::vector<StoredMessage> mailbox(std::string_view address) const override {
    std::vector<StoredMessage> out;
    auto at = address.find('@');
    if (at == std::string_view::npos || dir_.empty()) return out;
    fs::path box = dir_ / "mail" / std::string(address.substr(at + 1)) /
                   std::string(address.substr(0, at)) / "new";
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(box, ec)) files.push_back(e.path());
    std::sort(files.begin(), files.end());  // Maildir names start with the delivery time
    for (const auto& f : files) {
      StoredMessage m = parse_stored_message(read_file(f));
      m.mailbox = std::string(address);
      m.at = ctx_.clock ? ctx_.clock->now() : 0;
      out.push_back(std::move(m));
    }
    return out;
  }

  std::vector<std::string> logs() const override {
    std::vector<std::string> out;
    {
      std::lock_guard lock(mu_);
      out = notes_;
    }
    if (dir_.empty()) return out;
    std::stringstream ss(read_file(dir_ / "maillog"));
    for (std::string line; std::getline(ss, line);) out.push_back(line);
    std::stringstream dk(read_file(dir_ / "opendkim.log"));
    for (std::string line; std::getline(dk, line);) out.push_back("opendkim: " + line);
    return out;
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (started_) exec({"/usr/sbin/postfix", "-c", (dir_ / "config").string(), "stop"});
    if (opendkim_pid_ > 0) {
      ::kill(opendkim_pid_, SIGTERM);
      for (int i = 0; i < 40 && ::waitpid(opendkim_pid_, nullptr, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      ::kill(opendkim_pid_, SIGKILL);
      ::waitpid(opendkim_pid_, nullptr, WNOHANG);
    }
    if (!dir_.empty() && !std::getenv("MAILSIM_KEEP_RUN_DIR")) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

 private:
  void log(std::string line) {
    std::lock_guard lock(mu_);
    notes_.push_back(std::move(line));
  }

  net::CommandResult exec(const std::vector<std::string>& argv) const {
    std::vector<std::string> full = {"ip", "netns", "exec", ctx_.netns};
    full.insert(full.end(), argv.begin(), argv.end());
    return net::run_command(full, {}, std::chrono::seconds(60));
  }

  pid_t spawn(const std::vector<std::string>& argv, const fs::path& log_path) const {
    // The fabric's spawn needs a host name; we only know the namespace, so spawn directly.
    std::vector<std::string> full = {"ip", "netns", "exec", ctx_.netns};
    full.insert(full.end(), argv.begin(), argv.end());
    // Everything the child needs is built before fork(): after it only async-signal-safe
    // calls are allowed in a threaded process.
    std::vector<char*> args;
    for (auto& a : full) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const std::string path = log_path.string();
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    if (pid < 0) throw SutError("postfix: fork failed");
    return pid;
  }

  void wait_for_port(int port) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    const std::string needle = fmt::format(":{} ", port);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = exec({"ss", "-Hltn"});
      if (r.output.find(needle) != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw SutError(fmt::format("postfix: nothing listens on port {} in {} after 20 s ({})", port,
                               ctx_.netns, read_file(dir_ / "opendkim.log")));
  }

  SutContext ctx_;
  fs::path dir_;
  std::string domain_;
  std::vector<std::string> mailboxes_;
  pid_t opendkim_pid_ = -1;
  bool started_ = false;
  bool stopped_ = false;
  mutable std::mutex mu_;
  std::vector<std::string> submissions_;
  std::vector<std::string> notes_;
};

}  // namespace

std::unique_ptr<Sut> make_postfix_sut() { return std::make_unique<PostfixSut>(); }

}  // namespace mailsim::sut
