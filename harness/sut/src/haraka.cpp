// `--sut haraka`: Haraka inside the SUT's network namespace (haraka.hpp).
#include "mailsim/sut/haraka.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "mailsim/auth/dkim.hpp"
#include "mailsim/net/netns_fabric.hpp"
#include "real_mta.hpp"

namespace mailsim::sut {

namespace fs = std::filesystem;

namespace {

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

class HarakaSut final : public RealMtaSut {
 public:
  HarakaSut() : RealMtaSut("haraka", "haraka.log", 587) {}
  ~HarakaSut() override { stop(); }
  std::string kind() const override { return "haraka"; }

  void start(const SutContext& ctx) override {
    require_netns(ctx, "Haraka");
    haraka_ = find_haraka_dir();
    if (haraka_.empty())
      throw SutError(
          "--sut haraka: Haraka not found — run scripts/bootstrap (npm ci in third_party/haraka) "
          "or set MAILSIM_HARAKA_DIR to the Haraka package folder");
    if (net::run_command({"node", "--version"}, {}, std::chrono::seconds(10)).exit_code != 0)
      throw SutError("--sut haraka needs `node` on PATH (Debian package nodejs: scripts/bootstrap)");
    ctx_ = ctx;
    make_run_dir();
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

 private:
  void stop_daemons() override {
    stop_process_group(pid_);
    pid_ = -1;
  }

  bool accepting() const override { return pid_ > 0; }

  // "250 Message Queued (F4A1…-…)": the transaction uuid, which outbound logs carry.
  std::string queue_id(const std::string& text) const override {
    auto open = text.find('(');
    auto close = text.find(')', open);
    if (open == std::string::npos || close == std::string::npos)
      throw SutError("haraka: no transaction id in '" + text + "'");
    return text.substr(open + 1, close - open - 1);
  }

  AttemptsById parse_log(const std::string& text) const override {
    return parse_haraka_log(text).attempts;
  }

  // kStorePlugin's files: mail/<rcpt>/<time>.<uuid>.eml with a .meta beside it.
  std::vector<fs::path> mailbox_files(std::string_view address) const override {
    std::string lower(address);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
    return sorted_files(dir_ / "mail" / lower, ".eml");  // names start with the arrival time
  }

  StoredMessage read_stored(const fs::path& f) const override {
    StoredMessage m;
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
    return m;
  }

  void spawn_haraka() {
    const std::string node_haraka = (fs::path(haraka_) / "bin" / "haraka").string();
    pid_ = spawn({"node", node_haraka, "-c", dir_.string()}, log_path());
  }

  // Haraka gets 30 s to listen; a Haraka that died (bad config) fails at once.
  void wait_for_port(const std::string& endpoint) {
    if (wait_listening(endpoint + " ", std::chrono::seconds(30), &pid_)) return;
    throw SutError(fmt::format("haraka: not listening on {} in {} (log: {})", endpoint, ctx_.netns,
                               read_file(log_path()).substr(0, 4000)));
  }

  std::string haraka_;
  std::string domain_;
  pid_t pid_ = -1;
};

}  // namespace

std::unique_ptr<Sut> make_haraka_sut() { return std::make_unique<HarakaSut>(); }

}  // namespace mailsim::sut
