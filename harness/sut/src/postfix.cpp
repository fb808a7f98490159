// `--sut postfix`: Postfix + OpenDKIM inside the SUT's network namespace (postfix.hpp).
#include "mailsim/sut/postfix.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "postfix_log.hpp"
#include "real_mta.hpp"

namespace mailsim::sut {

namespace fs = std::filesystem;

namespace {

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

class PostfixSut final : public RealMtaSut {
 public:
  PostfixSut() : RealMtaSut("postfix", "maillog", 25) {}
  ~PostfixSut() override { stop(); }
  std::string kind() const override { return "postfix"; }

  void start(const SutContext& ctx) override {
    require_netns(ctx, "Postfix");
    for (const char* tool : {"/usr/sbin/postfix", "/usr/sbin/opendkim", "/usr/sbin/opendkim-genkey"})
      if (::access(tool, X_OK) != 0)
        throw SutError(fmt::format(
            "--sut postfix needs {} (Debian packages postfix, opendkim, opendkim-tools: "
            "scripts/bootstrap)",
            tool));
    ctx_ = ctx;
    make_run_dir();
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

 private:
  bool accepting() const override { return started_; }

  // "250 2.0.0 Ok: queued as 4Qx1yZ2abcz"
  std::string queue_id(const std::string& text) const override {
    auto pos = text.find("queued as ");
    if (pos == std::string::npos) throw SutError("postfix: no queue id in '" + text + "'");
    std::string id = text.substr(pos + 10);
    return id.substr(0, id.find_first_of(" \r\n"));
  }

  AttemptsById parse_log(const std::string& text) const override {
    return parse_postfix_log(text).attempts;
  }

  // The virtual(8) Maildir of the address; its names start with the delivery time.
  std::vector<fs::path> mailbox_files(std::string_view address) const override {
    auto at = address.find('@');
    if (at == std::string_view::npos) return {};
    return sorted_files(dir_ / "mail" / std::string(address.substr(at + 1)) /
                        std::string(address.substr(0, at)) / "new");
  }

  StoredMessage read_stored(const fs::path& f) const override {
    return parse_stored_message(read_file(f));
  }

  void extra_logs(std::vector<std::string>& out) const override {
    std::stringstream dk(read_file(dir_ / "opendkim.log"));
    for (std::string line; std::getline(dk, line);) out.push_back("opendkim: " + line);
  }

  void stop_daemons() override {
    if (started_) exec({"/usr/sbin/postfix", "-c", (dir_ / "config").string(), "stop"});
    stop_process_group(opendkim_pid_);
    opendkim_pid_ = -1;
  }

  void wait_for_port(int port) const {
    if (wait_listening(fmt::format(":{} ", port), std::chrono::seconds(20))) return;
    throw SutError(fmt::format("postfix: nothing listens on port {} in {} after 20 s ({})", port,
                               ctx_.netns, read_file(dir_ / "opendkim.log")));
  }

  std::string domain_;
  std::vector<std::string> mailboxes_;
  pid_t opendkim_pid_ = -1;
  bool started_ = false;
};

}  // namespace

std::unique_ptr<Sut> make_postfix_sut() { return std::make_unique<PostfixSut>(); }

}  // namespace mailsim::sut
