// `--sut haraka`: Haraka inside the SUT's network namespace (haraka.hpp).
#include "mailsim/sut/haraka.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "mailsim/auth/dkim.hpp"
#include "mailsim/net/netns_fabric.hpp"
#include "mailsim/smtp/client.hpp"

extern char** environ;

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
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw SutError(fmt::format("haraka: cannot write {}", p.string()));
  out.close();
  if (perms != fs::perms::unknown) fs::permissions(p, perms);
}

std::optional<fs::path> haraka_below(const fs::path& start) {
  std::error_code ec;
  for (fs::path p = start; !p.empty(); p = p.parent_path()) {
    fs::path candidate = p / "third_party" / "haraka" / "node_modules" / "Haraka";
    if (fs::exists(candidate / "bin" / "haraka", ec)) return candidate;
    if (p == p.parent_path()) break;
  }
  return std::nullopt;
}

// The relay ACL (poste.io relays for authenticated users; here: the namespace's own
// loopback, where the runner submits). Everyone else may only deliver to our domain
// (RFC 5321 §3.6: no open relay) — rcpt_to.in_host_list decides that.
constexpr const char* kRelayPlugin = R"js('use strict'
// mailsim: relay ACL — only clients on the namespace's loopback may relay.
exports.hook_connect_init = function (next, connection) {
    const ip = connection.remote.ip || ''
    if (ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1') connection.relaying = true
    next()
}
)js";

// Inbound storage: each accepted inbound message becomes <mail>/<rcpt>/<uuid>.eml with a
// <uuid>.meta beside it (client ip, HELO, TLS, envelope), written before the 250.
constexpr const char* kStorePlugin = R"js('use strict'
const fs = require('node:fs')
const path = require('node:path')
exports.hook_queue = function (next, connection) {
    const txn = connection?.transaction
    if (!txn) return next()
    const base = path.join(process.env.HARAKA, 'mail')
    const addr = (a) => (typeof a.address === 'function' ? a.address() : a.address) || ''
    const rcpts = txn.rcpt_to.map((r) => addr(r).toLowerCase())
    const meta = [
        `client_ip=${connection.remote.ip}`,
        `helo=${connection.hello.host}`,
        `tls=${connection.tls.enabled ? 1 : 0}`,
        `mail_from=${addr(txn.mail_from)}`,
        `rcpt_to=${rcpts.join(',')}`,
    ].join('\n') + '\n'
    const chunks = []
    const ws = new (require('node:stream').Writable)({
        write(chunk, enc, cb) { chunks.push(Buffer.from(chunk)); cb() },
    })
    ws.once('finish', () => {
        const data = Buffer.concat(chunks)
        try {
            for (const r of rcpts) {
                const dir = path.join(base, r)
                fs.mkdirSync(dir, { recursive: true })
                const name = `${Date.now()}.${txn.uuid}`
                fs.writeFileSync(path.join(dir, `${name}.meta`), meta)
                fs.writeFileSync(path.join(dir, `${name}.eml`), data)
            }
        } catch (err) {
            connection.logerror(this, `store failed: ${err}`)
            return next(DENYSOFT, 'mailsim store failed')
        }
        connection.loginfo(this, `stored for ${rcpts.join(',')}`)
        next(OK)
    })
    txn.message_stream.pipe(ws, { line_endings: '\r\n' })
}

// Outbound results in one greppable line each (haraka_log.cpp reads them); "delivered" is
// Haraka's own line. A probe is one attempt: no bounce message is sent back (it would land
// in our own mailbox) and a deferral is final, not retried hours later (docs/real-mtas.md).
const mx_of = (x) => (x && x.mx ? `host=${x.mx.from_dns || x.mx.exchange || ''} ip=${x.mx.exchange || ''} ` : '')
exports.hook_bounce = function (next, hmail, err) {
    hmail.lognotice(`mailsim bounce ${mx_of(err)}reason="${String(err && err.message).replace(/"/g, "'")}"`)
    next(OK)
}
exports.hook_deferred = function (next, hmail, params) {
    hmail.lognotice(`mailsim deferred ${mx_of(params)}reason="${String(params && params.err).replace(/"/g, "'")}"`)
    next(OK)
}
)js";

}  // namespace

std::string find_haraka_dir() {
  if (const char* env = std::getenv("MAILSIM_HARAKA_DIR"); env && *env) return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec)
    if (auto p = haraka_below(exe.parent_path())) return p->string();
  if (auto p = haraka_below(fs::current_path(ec))) return p->string();
  return {};
}

namespace {

class HarakaSut final : public Sut {
 public:
  ~HarakaSut() override { stop(); }
  std::string kind() const override { return "haraka"; }

  void start(const SutContext& ctx) override {
    if (ctx.netns.empty())
      throw SutError(
          "--sut haraka runs a real Haraka and needs --fabric netns (a network namespace per "
          "world host); the loopback fabric cannot give it the world's addresses");
    haraka_ = find_haraka_dir();
    if (haraka_.empty())
      throw SutError(
          "--sut haraka: Haraka not found — run scripts/bootstrap (npm ci in third_party/haraka) "
          "or set MAILSIM_HARAKA_DIR to the Haraka package folder");
    if (net::run_command({"node", "--version"}, {}, std::chrono::seconds(10)).exit_code != 0)
      throw SutError("--sut haraka needs `node` on PATH (Debian package nodejs: scripts/bootstrap)");
    ctx_ = ctx;
    char tmpl[] = "/tmp/mailsim-haraka-XXXXXX";
    if (!::mkdtemp(tmpl)) throw SutError("haraka: cannot create a run directory in /tmp");
    dir_ = tmpl;
    for (auto sub : {"config", "plugins", "mail", "queue"}) fs::create_directories(dir_ / sub);
    // Haraka's own defaults first (what `haraka -i` copies): the files we do not write
    // (connection.ini, …) must exist, Haraka does not fall back to its package's copies.
    std::error_code ec;
    fs::copy(fs::path(haraka_) / "config", dir_ / "config",
             fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
    if (ec) throw SutError("haraka: cannot copy its default config: " + ec.message());
    log("haraka: run directory " + dir_.string() + " in namespace " + ctx.netns);
  }

  ProvisionResult provision(const DomainSpec& spec) override {
    if (dir_.empty()) throw SutError("haraka: provision() before start()");
    if (pid_ > 0) throw SutError("haraka: one domain per run (already provisioned)");
    domain_ = spec.domain;
    const std::string selector =
        spec.dkim_selector.empty() ? fmt::format("s20260101{}", ctx_.seed % 1000) : spec.dkim_selector;
    const int bits = spec.dkim_bits > 0 ? spec.dkim_bits : 2048;
    // The key comes from the run seed, so two runs print the same report (DESIGN.md).
    auth::DkimKey key = auth::generate_dkim_key(domain_, selector, ctx_.seed, bits);

    std::vector<std::string> own;  // the SUT host's virtual addresses
    if (ctx_.world)
      if (const auto* h = ctx_.world->host(ctx_.host_name)) own = h->addresses;
    if (own.empty()) throw SutError("haraka: the SUT host " + ctx_.host_name + " has no address");
    std::vector<std::string> listen;
    for (const auto& a : own) {
      const bool v6 = a.find(':') != std::string::npos;
      for (int port : {25, 587}) listen.push_back(v6 ? fmt::format("[{}]:{}", a, port) : fmt::format("{}:{}", a, port));
    }
    listen.push_back("127.0.0.1:587");  // where the runner submits (the relay ACL)
    std::string public_ip;
    for (const auto& a : own)
      if (a.find(':') == std::string::npos && public_ip.empty()) public_ip = a;

    const fs::path c = dir_ / "config";
    write_file(c / "me", ctx_.host_name + "\n");
    // public_ip: Haraka would otherwise ask a STUN server for it (10 s timeout, and no such
    // server exists in the sealed world).
    // nodes=0: one process, no cluster master (stop() then has one child to end). Our
    // smtp.ini replaces Haraka's whole file, so the sections it reads must be present.
    write_file(c / "smtp.ini", fmt::format("[main]\nlisten={}\npublic_ip={}\nnodes=0\n\n[message]\n\n[headers]\n",
                                           fmt::join(listen, ","), public_ip.empty() ? own.front() : public_ip));
    write_file(c / "log.ini", "[main]\nlevel=info\ntimestamps=true\nformat=default\n");
    const bool tls = !ctx_.tls.empty() && ctx_.starttls;
    std::string plugins = "mailsim_relay\n";
    if (tls) plugins += "tls\n";
    plugins += "rcpt_to.in_host_list\ndkim\nmailsim_store\n";
    write_file(c / "plugins", plugins);
    write_file(dir_ / "plugins" / "mailsim_relay.js", kRelayPlugin);
    write_file(dir_ / "plugins" / "mailsim_store.js", kStorePlugin);
    write_file(c / "host_list", domain_ + "\n");
    // haraka-plugin-dkim signs relayed mail for the From: domain with config/dkim/<domain>;
    // verification is the receivers' job here.
    write_file(c / "dkim.ini", "[sign]\nenabled=true\n\n[verify]\nenabled=false\n");
    write_file(c / "dkim" / domain_ / "selector", selector + "\n");
    write_file(c / "dkim" / domain_ / "private", key.private_key_pem,
               fs::perms::owner_read | fs::perms::owner_write);
    // Outbound: STARTTLS when offered (tls off when the guide's certificate step is
    // missing), the world's MX may look local to Node (local_mx_ok), and a temporary
    // failure is final: mailsim_store's deferred hook logs and drops it (docs/real-mtas.md).
    write_file(c / "outbound.ini",
               fmt::format("[main]\nenable_tls={}\nlocal_mx_ok=true\ntemp_fail_intervals=1h\n"
                           "connect_timeout={}\ninet_prefer={}\n",
                           tls ? "true" : "false",
                           std::max<std::uint32_t>(1, ctx_.io_timeout_ms / 1000),
                           // A dual-stack SUT tries AAAA first, as the builtin (RFC 6724).
                           std::any_of(own.begin(), own.end(),
                                               [](const std::string& a) { return a.find(':') != std::string::npos; })
                               ? "v6"
                               : "v4"));
    if (tls) {
      write_file(c / "tls_cert.pem", ctx_.tls.server_cert_pem);
      write_file(c / "tls_key.pem", ctx_.tls.server_key_pem, fs::perms::owner_read | fs::perms::owner_write);
      write_file(c / "tls.ini", "[main]\n\n[outbound]\nrejectUnauthorized=false\n");
    }

    spawn_haraka();
    wait_for_port("127.0.0.1:587");
    log(fmt::format("haraka: started for {} (DKIM {}._domainkey, {} bits)", domain_, selector, bits));

    ProvisionResult pr;
    DkimPublication pub;
    pub.domain = domain_;
    pub.selector = selector;
    pub.record_name = selector + "._domainkey." + domain_;
    pub.txt = key.public_txt;
    pub.algorithm = key.algorithm;
    pub.bits = key.bits ? key.bits : bits;
    pr.dkim.push_back(pub);
    return pr;
  }

  std::string submit(const Submission& sub) override {
    if (pid_ <= 0) throw SutError("haraka: submit() before provision()");
    smtp::ClientOptions o;
    o.host = "127.0.0.1";
    o.port = 587;
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
      throw SutError(fmt::format("haraka refused the submission: {}",
                                 !r.error.empty() ? r.error : f ? f->summary() : "no reply"));
    }
    // "250 Message Queued (F4A1…-…)": the transaction uuid, which outbound logs carry.
    std::string text;
    for (const auto& l : r.data_end.lines) text += l;
    auto open = text.find('(');
    auto close = text.find(')', open);
    if (open == std::string::npos || close == std::string::npos)
      throw SutError("haraka: no transaction id in '" + text + "'");
    std::string id = text.substr(open + 1, close - open - 1);
    {
      std::lock_guard lock(mu_);
      submissions_.push_back(id);
    }
    log(fmt::format("haraka: queued {} for {}", id, fmt::join(sub.envelope.rcpt_to, ", ")));
    return id;
  }

  void run_queue(const std::atomic<bool>* cancel) override {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(ctx_.io_timeout_ms * 4 + 15000);
    for (;;) {
      auto parsed = parse_haraka_log(read_file(dir_ / "haraka.log"));
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
    return parse_haraka_log(read_file(dir_ / "haraka.log"))
        .status(std::string(id), ctx_.clock ? ctx_.clock->now() : 0);
  }

  std::vector<StoredMessage> mailbox(std::string_view address) const override {
    std::vector<StoredMessage> out;
    if (dir_.empty()) return out;
    std::string lower(address);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_ / "mail" / lower, ec))
      if (e.path().extension() == ".eml") files.push_back(e.path());
    std::sort(files.begin(), files.end());  // names start with the arrival time
    for (const auto& f : files) {
      StoredMessage m;
      m.mailbox = std::string(address);
      m.data = read_file(f);
      fs::path meta = f;
      meta.replace_extension(".meta");
      std::stringstream ss(read_file(meta));
      for (std::string line; std::getline(ss, line);) {
        auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string k = line.substr(0, eq), v = line.substr(eq + 1);
        if (k == "client_ip") m.client_ip = v.rfind("::ffff:", 0) == 0 ? v.substr(7) : v;
        if (k == "helo") m.helo = v;
        if (k == "tls") m.tls = v == "1";
        if (k == "mail_from") m.envelope.mail_from = v;
        if (k == "rcpt_to") {
          std::stringstream rs(v);
          for (std::string r; std::getline(rs, r, ',');) m.envelope.rcpt_to.push_back(r);
        }
      }
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
    std::stringstream ss(read_file(dir_ / "haraka.log"));
    for (std::string line; std::getline(ss, line);) out.push_back(line);
    return out;
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (pid_ > 0) {
      // The process group: `ip netns exec` and the node it execs.
      ::kill(-pid_, SIGTERM);
      bool gone = false;
      for (int i = 0; i < 40 && !gone; ++i) {
        gone = ::waitpid(pid_, nullptr, WNOHANG) == pid_;
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (!gone) {
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
      }
      pid_ = -1;
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

  void spawn_haraka() {
    const std::string node_haraka = (fs::path(haraka_) / "bin" / "haraka").string();
    std::vector<std::string> argv = {"ip", "netns", "exec", ctx_.netns, "node", node_haraka,
                                     "-c", dir_.string()};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const std::string log_path = (dir_ / "haraka.log").string();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Own process group (stop() signals it whole) and no blocked signals: the CLI blocks
    // SIGINT/SIGTERM in its threads, and a child that inherited that could not be stopped.
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw SutError(fmt::format("haraka: cannot start ip netns exec … node: {}", rc));
    pid_ = pid;
  }

  void wait_for_port(const std::string& endpoint) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = net::run_command({"ip", "netns", "exec", ctx_.netns, "ss", "-Hltn"}, {},
                                std::chrono::seconds(10));
      if (r.output.find(endpoint + " ") != std::string::npos) return;
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw SutError(fmt::format("haraka: not listening on {} in {} (log: {})", endpoint, ctx_.netns,
                               read_file(dir_ / "haraka.log").substr(0, 4000)));
  }

  SutContext ctx_;
  std::string haraka_;
  fs::path dir_;
  std::string domain_;
  pid_t pid_ = -1;
  bool stopped_ = false;
  mutable std::mutex mu_;
  std::vector<std::string> submissions_;
  std::vector<std::string> notes_;
};

}  // namespace

std::unique_ptr<Sut> make_haraka_sut() { return std::make_unique<HarakaSut>(); }

}  // namespace mailsim::sut
