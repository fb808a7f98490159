#include "mailsim/sut/posteio.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include <boost/asio/ip/address_v4.hpp>
#include <fmt/format.h>

#include "mailsim/smtp/client.hpp"
#include "posteio_relay.hpp"

namespace mailsim::sut {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using boost::asio::ip::address_v4;
using boost::asio::ip::make_address_v4;

namespace {

bool env_flag(const char* name, bool fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  return std::string_view(v) != "0" && std::string_view(v) != "false";
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

PosteioOptions posteio_options_from_env() {
  PosteioOptions o;
  if (const char* v = std::getenv("MAILSIM_POSTEIO_IMAGE"); v && *v) o.image = v;
  if (const char* v = std::getenv("MAILSIM_POSTEIO_TAG"); v && *v) o.tag = v;
  if (const char* v = std::getenv("MAILSIM_POSTEIO_DATA"); v && *v) o.data_root = v;
  if (const char* v = std::getenv("MAILSIM_POSTEIO_READY_TIMEOUT"); v && *v)
    o.ready_timeout = std::chrono::seconds(std::strtol(v, nullptr, 10));
  o.pull = env_flag("MAILSIM_POSTEIO_PULL", false);
  o.keep = env_flag("MAILSIM_POSTEIO_KEEP", false);
  o.disable_rspamd = !env_flag("MAILSIM_POSTEIO_RSPAMD", true);
  o.disable_roundcube = !env_flag("MAILSIM_POSTEIO_ROUNDCUBE", false);
  return o;
}

PosteioOptions posteio_options(const SutOptions& options) {
  PosteioOptions o = posteio_options_from_env();
  for (const auto& [key, value] : options) {
    bool on = value != "0" && value != "false";
    if (key == "pull") o.pull = on;
    else if (key == "keep") o.keep = on;
    else if (key == "tag") o.tag = value;
    else if (key == "image") o.image = value;
    else
      throw SutError(fmt::format("posteio: unknown option '{}' (valid: image, keep, pull, tag)",
                                 key));
  }
  return o;
}

// ---------------------------------------------------------------------------------------

BridgePlan plan_bridge(const world::World& world, std::string_view sut_host,
                       std::string_view network_name) {
  BridgePlan plan;
  plan.network.name = std::string(network_name);
  plan.network.internal = true;
  plan.network.labels = {{"mailsim", "posteio"}};
  const world::Host* sut = world.host(sut_host);
  if (!sut) throw SutError(fmt::format("the world has no host '{}' for the poste.io container", sut_host));
  // Every IPv4 address of the world, by /29 block (Docker needs non-overlapping pools).
  std::map<std::uint32_t, std::vector<std::pair<const world::Host*, address_v4>>> blocks;
  for (const auto& h : world.hosts()) {
    for (const auto& a : h.addresses) {
      boost::system::error_code ec;
      auto v4 = make_address_v4(a, ec);
      if (ec) {
        plan.unreachable.push_back(fmt::format("{} {}: IPv6 is not on the bridge (IPv4 pools only)", h.name, a));
        continue;
      }
      blocks[v4.to_uint() & ~7u].push_back({&h, v4});
    }
  }
  for (const auto& a : sut->addresses) {
    boost::system::error_code ec;
    (void)make_address_v4(a, ec);
    if (!ec && plan.sut_address.empty()) plan.sut_address = a;
  }
  if (plan.sut_address.empty())
    throw SutError(fmt::format("host '{}' has no IPv4 address for the poste.io container", sut_host));
  const std::uint32_t sut_block = make_address_v4(plan.sut_address).to_uint() & ~7u;
  for (const auto& [base, members] : blocks) {
    const std::string subnet = fmt::format("{}/29", address_v4(base).to_string());
    auto usable = [base = base](address_v4 x) {
      auto off = x.to_uint() - base;
      return off != 0 && off != 7;  // network and broadcast addresses of the /29
    };
    if (base == sut_block) {
      // The gateway is a spare address of the SUT's block: the DNS relay lives there.
      std::string gateway;
      for (std::uint32_t off = 1; off < 7 && gateway.empty(); ++off) {
        bool used = std::any_of(members.begin(), members.end(),
                                [&](const auto& m) { return m.second.to_uint() == base + off; });
        if (!used) gateway = address_v4(base + off).to_string();
      }
      if (gateway.empty())
        throw SutError(fmt::format("no spare address in {} for the bridge gateway", subnet));
      plan.network.pools.push_back({subnet, gateway});
      plan.dns_address = gateway;
      for (const auto& [h, a] : members)
        if (h != sut)
          plan.unreachable.push_back(fmt::format(
              "{} {}: shares the container's /29; only the gateway is on the host side", h->name,
              a.to_string()));
      continue;
    }
    // Another block: its first usable world address becomes the gateway.
    const world::Host* chosen = nullptr;
    for (const auto& [h, a] : members) {
      if (!chosen && usable(a)) {
        chosen = h;
        plan.network.pools.push_back({subnet, a.to_string()});
        plan.relays.push_back({h->name, a.to_string()});
      } else {
        plan.unreachable.push_back(fmt::format(
            "{} {}: {}", h->name, a.to_string(),
            usable(a) ? fmt::format("{} already holds the gateway of {}", chosen->name, subnet)
                      : "network or broadcast address of its /29"));
      }
    }
  }
  return plan;
}

// ---------------------------------------------------------------------------------------

DkimPublication parse_dkim_output(std::string_view domain, std::string_view output) {
  DkimPublication pub;
  pub.domain = std::string(domain);
  pub.algorithm = "rsa-sha256";
  const std::string text(output);
  std::smatch m;
  static const std::regex kRecord(R"(([A-Za-z0-9_-]+)\._domainkey)");
  static const std::regex kSelectorLine(R"((?:^|\n)\s*selector\s*[:=]\s*([A-Za-z0-9_-]+))",
                                        std::regex::icase);
  if (std::regex_search(text, m, kRecord) || std::regex_search(text, m, kSelectorLine))
    pub.selector = m[1].str();
  // The key: everything after p= up to the end of the base64, across quoted chunks.
  std::string joined;
  for (char c : text)
    if (c != '"') joined += c;
  static const std::regex kKey(R"(p=\s*([A-Za-z0-9+/=\s]+))");
  static const std::regex kKeyLine(R"((?:^|\n)\s*public key\s*[:=]\s*([A-Za-z0-9+/=\s]+))",
                                   std::regex::icase);
  std::string key;
  if (std::regex_search(joined, m, kKey) || std::regex_search(joined, m, kKeyLine)) {
    for (char c : m[1].str())
      if (!std::isspace(static_cast<unsigned char>(c))) key += c;
  }
  if (pub.selector.empty() || key.empty())
    throw SutError(fmt::format("cannot read the DKIM {} from poste.io's domain:dkim output: '{}'",
                               pub.selector.empty() ? "selector" : "public key (p=)",
                               text.substr(0, 400)));
  pub.record_name = fmt::format("{}._domainkey.{}", pub.selector, domain);
  pub.txt = "v=DKIM1; k=rsa; p=" + key;
  // RSA modulus size from the SubjectPublicKeyInfo length: 2048-bit keys are ~392 chars.
  pub.bits = key.size() > 700 ? 4096 : key.size() > 300 ? 2048 : 1024;
  return pub;
}

// ---------------------------------------------------------------------------------------

namespace {

constexpr const char* kConsole = "/opt/admin/bin/console";

class PosteioSut final : public Sut {
 public:
  explicit PosteioSut(PosteioOptions options)
      : options_(std::move(options)), docker_(options_.docker, std::chrono::seconds(60)) {
    if (!options_.sleep) options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  }
  ~PosteioSut() override {
    try {
      stop();
    } catch (...) {
    }
  }
  std::string kind() const override { return "posteio"; }

  void start(const SutContext& context) override;
  ProvisionResult provision(const DomainSpec& domain) override;
  std::string submit(const Submission& submission) override;
  void run_queue(const std::atomic<bool>* cancel) override;
  SubmissionStatus status(std::string_view id) const override;
  std::vector<StoredMessage> mailbox(std::string_view address) const override;
  std::vector<std::string> logs() const override;
  void stop() override;

 private:
  void note(std::string line) const {
    std::lock_guard lock(mu_);
    notes_.push_back(std::move(line));
  }
  // Runs the console as uid 8 (the admin app's owner, posteio.md); throws on a non-zero exit.
  net::ExecResult console(const std::vector<std::string>& args) {
    std::vector<std::string> cmd = {kConsole};
    cmd.insert(cmd.end(), args.begin(), args.end());
    auto t0 = Clock::now();
    auto r = docker_.exec(container_id_, cmd, "8", std::chrono::seconds(120));
    note(fmt::format("console {} → exit {} ({:.0f} ms)", args.front(), r.exit_code, ms_since(t0)));
    if (r.exit_code != 0)
      throw SutError(fmt::format("poste.io console {} failed with exit {}: {}{}", args.front(),
                                 r.exit_code, r.err, r.out));
    return r;
  }
  void wait_ready();
  void cleanup();

  PosteioOptions options_;
  net::DockerClient docker_;
  SutContext ctx_;
  BridgePlan plan_;
  std::string run_id_, network_id_, container_id_, data_dir_, password_;
  std::vector<std::string> domains_;
  std::unique_ptr<RelaySet> relays_;
  std::uint16_t submission_port_ = 0;  // loopback relay → container:587
  std::map<std::string, SubmissionStatus, std::less<>> submissions_;
  std::map<std::string, std::string> queue_ids_;  // our id → Haraka's queue id
  mutable std::mutex mu_;
  mutable std::vector<std::string> notes_;
  bool started_ = false;
};

void PosteioSut::start(const SutContext& context) {
  ctx_ = context;
  if (!ctx_.world) throw SutError("posteio: the context has no world");
  auto t0 = Clock::now();
  // Unique per SUT in this process. Runs still cannot overlap: two networks with the same
  // World pools conflict in Docker, so the catalog runs with --jobs 1 (docs/posteio.md).
  static std::atomic<unsigned> counter{0};
  run_id_ = options_.run_id.empty() ? fmt::format("{}-{}-{}", ::getpid(), ctx_.seed, ++counter)
                                    : options_.run_id;
  password_ = options_.password.empty() ? fmt::format("mailsim-{}-pw", ctx_.seed) : options_.password;
  const std::string reference = options_.image + ":" + options_.tag;
  if (!docker_.ping())
    throw SutError(fmt::format("no Docker engine answers at unix://{} (set DOCKER_HOST=unix://…)",
                               options_.docker.socket_path));
  if (!docker_.image_exists(reference)) {
    if (!options_.pull)
      throw SutError(fmt::format("image {} is not present; run with --pull (MAILSIM_POSTEIO_PULL=1) "
                                 "to fetch it, mailsim never pulls unasked",
                                 reference));
    note(fmt::format("pulling {}", reference));
    docker_.pull_image(options_.image, options_.tag);
  }
  started_ = true;  // from here on, stop() has something to clean
  try {
    plan_ = plan_bridge(*ctx_.world, ctx_.host_name, "mailsim-" + run_id_);
    for (const auto& u : plan_.unreachable) note("bridge: " + u);
    network_id_ = docker_.create_network(plan_.network);
    note(fmt::format("network {} ({}) internal, {} pool(s)", plan_.network.name, network_id_,
                     plan_.network.pools.size()));
    if (options_.relays) {
      relays_ = std::make_unique<RelaySet>();
      relays_->add_udp(plan_.dns_address, 53, ctx_.dns_server);
      relays_->add_tcp(plan_.dns_address, 53, [this] {
        return Route{true, "", ctx_.dns_server.address, ctx_.dns_server.port, ""};
      });
      for (const auto& r : plan_.relays) {
        const world::Host* h = ctx_.world->host(r.host);
        for (std::uint16_t port : h ? h->open_ports : std::set<std::uint16_t>{}) {
          relays_->add_tcp(r.address, port, [this, address = r.address, port] {
            return ctx_.dial(ctx_.host_name, address, port);
          });
        }
      }
      submission_port_ = relays_->add_tcp("127.0.0.1", 0, [this] {
        return Route{true, "", plan_.sut_address, 587, ""};
      });
      relays_->run();
    }
    data_dir_ = (fs::path(options_.data_root.empty() ? fs::temp_directory_path().string() : options_.data_root) /
                 ("mailsim-posteio-" + run_id_))
                    .string();
    fs::create_directories(fs::path(data_dir_) / "data");
    net::ContainerSpec spec;
    spec.name = "mailsim-posteio-" + run_id_;
    spec.image = reference;
    spec.hostname = ctx_.host_name;
    spec.env = {"TZ=UTC", "HTTPS=OFF"};
    if (options_.disable_clamav) spec.env.push_back("DISABLE_CLAMAV=TRUE");
    if (options_.disable_rspamd) spec.env.push_back("DISABLE_RSPAMD=TRUE");
    if (options_.disable_roundcube) spec.env.push_back("DISABLE_ROUNDCUBE=TRUE");
    spec.binds = {(fs::path(data_dir_) / "data").string() + ":/data"};
    spec.dns = {plan_.dns_address};
    spec.network = plan_.network.name;
    spec.ipv4_address = plan_.sut_address;
    spec.memory_bytes = options_.memory_bytes;
    spec.labels = {{"mailsim", "posteio"}, {"mailsim.run", run_id_}};
    container_id_ = docker_.create_container(spec);
    docker_.start_container(container_id_);
    note(fmt::format("container {} ({}) at {}, DNS {}", spec.name, container_id_.substr(0, 12),
                     plan_.sut_address, plan_.dns_address));
    wait_ready();
    note(fmt::format("timing: start {:.0f} ms", ms_since(t0)));
  } catch (...) {
    cleanup();
    throw;
  }
}

void PosteioSut::wait_ready() {
  const auto deadline = Clock::now() + options_.ready_timeout;
  std::string last;
  int attempts = 0;
  for (;;) {
    ++attempts;
    try {
      auto r = docker_.exec(container_id_, {kConsole, "domain:list"}, "8", std::chrono::seconds(30));
      if (r.exit_code == 0) {
        note(fmt::format("ready: console domain:list succeeded after {} attempt(s)", attempts));
        return;
      }
      last = fmt::format("exit {}: {}{}", r.exit_code, r.err, r.out);
    } catch (const net::DockerError& e) {
      last = e.what();
    }
    if (Clock::now() >= deadline) break;
    options_.sleep(options_.poll_interval);
  }
  throw SutError(fmt::format(
      "poste.io was not ready after {} s: waited for `console domain:list` (as uid 8) to "
      "succeed, {} attempt(s); last: {}",
      options_.ready_timeout.count(), attempts, last.substr(0, 300)));
}

ProvisionResult PosteioSut::provision(const DomainSpec& spec) {
  auto t0 = Clock::now();
  // The guide's §5–§7: domain, mailboxes (the first one administers), the DKIM key.
  console({"domain:create", spec.domain});
  domains_.push_back(spec.domain);
  bool first = true;
  for (const auto& box : spec.mailboxes) {
    if (!box.ends_with("@" + spec.domain))
      throw SutError(fmt::format("mailbox {} is outside the domain {}", box, spec.domain));
    console({"email:create", box, password_, box.substr(0, box.find('@'))});
    if (first) console({"email:admin", box});
    first = false;
  }
  auto dkim = console({"domain:dkim", spec.domain});
  ProvisionResult result;
  result.dkim.push_back(parse_dkim_output(spec.domain, dkim.out + dkim.err));
  note(fmt::format("dkim: selector {} for {}; timing: provision {:.0f} ms", result.dkim.back().selector,
                   spec.domain, ms_since(t0)));
  return result;
}

std::string PosteioSut::submit(const Submission& submission) {
  auto t0 = Clock::now();
  std::string id = fmt::format("p{}", submissions_.size() + 1);
  SubmissionStatus st;
  st.id = id;
  if (submission_port_ == 0) {
    st.state = SubmissionState::failed;
    submissions_[id] = st;
    throw SutError("posteio: no submission relay (relays disabled)");
  }
  // RFC 6409 submission on 587: STARTTLS, then AUTH as the created mailbox.
  smtp::ClientOptions o;
  o.host = "127.0.0.1";
  o.port = submission_port_;
  o.helo_name = "probe.mailsim.test";
  o.tls = smtp::TlsMode::require;
  o.auth_user = submission.envelope.mail_from;
  o.auth_password = password_;
  o.connect_timeout = std::chrono::milliseconds(ctx_.io_timeout_ms);
  o.command_timeout = std::chrono::milliseconds(ctx_.io_timeout_ms);
  o.data_timeout = std::chrono::milliseconds(ctx_.io_timeout_ms * 4);
  auto r = smtp::send_mail(o, {submission.envelope.mail_from, submission.envelope.rcpt_to,
                               submission.data, {}});
  note(fmt::format("submit {} on 587: {} ({:.0f} ms)", id,
                   r.accepted ? r.data_end.summary() : (r.error.empty() ? r.final_reply()->summary() : r.error),
                   ms_since(t0)));
  if (!r.accepted) {
    st.state = SubmissionState::failed;
    submissions_[id] = st;
    throw SutError(fmt::format("poste.io refused the submission: {}", r.error.empty() ? r.final_reply()->summary() : r.error));
  }
  // Haraka answers "250 Message Queued (<uuid>)".
  std::smatch m;
  std::string text = r.data_end.summary();
  static const std::regex kQueued(R"(\(([0-9A-Fa-f.-]{8,})\))");
  if (std::regex_search(text, m, kQueued)) queue_ids_[id] = m[1].str();
  submissions_[id] = st;
  return id;
}

void PosteioSut::run_queue(const std::atomic<bool>* cancel) {
  // Haraka delivers on its own; we read its outbound log for each queue id (the log line
  // wording is UNVERIFIED: "delivered", "bounce", "temp_fail"/"deferred").
  const auto deadline = Clock::now() + options_.queue_timeout;
  for (;;) {
    bool pending = false;
    std::string log;
    try {
      log = docker_.exec(container_id_, {"cat", "/data/log/s6/haraka-submission/current"}, "",
                         std::chrono::seconds(30)).out;
    } catch (const net::DockerError& e) {
      note(std::string("queue: cannot read haraka-submission log: ") + e.what());
    }
    for (auto& [id, st] : submissions_) {
      if (st.state != SubmissionState::queued && st.state != SubmissionState::deferred) continue;
      auto q = queue_ids_.find(id);
      if (q == queue_ids_.end()) continue;
      std::string lines;
      for (std::size_t p = log.find(q->second); p != std::string::npos; p = log.find(q->second, p + 1)) {
        auto b = log.rfind('\n', p);
        auto e = log.find('\n', p);
        lines += log.substr(b == std::string::npos ? 0 : b + 1, e == std::string::npos ? std::string::npos : e - b) + "\n";
      }
      if (lines.find("delivered") != std::string::npos) st.state = SubmissionState::delivered;
      else if (lines.find("bounce") != std::string::npos) st.state = SubmissionState::bounced;
      else if (lines.find("temp_fail") != std::string::npos || lines.find("deferr") != std::string::npos)
        st.state = SubmissionState::deferred;
      if (st.state == SubmissionState::queued || st.state == SubmissionState::deferred) pending = true;
    }
    if (!pending || Clock::now() >= deadline || (cancel && cancel->load())) break;
    options_.sleep(options_.poll_interval);
  }
}

SubmissionStatus PosteioSut::status(std::string_view id) const {
  auto it = submissions_.find(id);
  if (it == submissions_.end()) throw SutError(fmt::format("no submission '{}'", id));
  return it->second;
}

std::vector<StoredMessage> PosteioSut::mailbox(std::string_view address) const {
  // Maildir under /data/domains/<domain>/<local>/ (layout UNVERIFIED); read-only exec.
  std::vector<StoredMessage> out;
  auto at = address.find('@');
  if (at == std::string_view::npos || container_id_.empty()) return out;
  const std::string dir = fmt::format("/data/domains/{}/{}", address.substr(at + 1), address.substr(0, at));
  auto list = docker_.exec(container_id_, {"find", dir, "-type", "f", "-path", "*/new/*"}, "",
                           std::chrono::seconds(30));
  std::string files = list.out;
  for (std::size_t p = 0; p < files.size();) {
    auto e = files.find('\n', p);
    std::string f = files.substr(p, e == std::string::npos ? std::string::npos : e - p);
    p = e == std::string::npos ? files.size() : e + 1;
    if (f.empty()) continue;
    StoredMessage m;
    m.mailbox = std::string(address);
    m.data = docker_.exec(container_id_, {"cat", f}, "", std::chrono::seconds(30)).out;
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<std::string> PosteioSut::logs() const {
  std::vector<std::string> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& n : notes_) out.push_back("posteio: " + n);
  }
  if (container_id_.empty()) return out;
  try {
    auto st = docker_.stats(container_id_);
    auto usage = st["memory_stats"].value("usage", std::int64_t{0});
    out.push_back(fmt::format("posteio: memory {:.1f} MiB (container stats)", usage / 1048576.0));
  } catch (const std::exception& e) {
    out.push_back(std::string("posteio: memory unknown: ") + e.what());
  }
  for (const char* which : {"haraka-submission", "haraka-smtp"}) {
    try {
      auto r = docker_.exec(container_id_, {"tail", "-n", "200", fmt::format("/data/log/s6/{}/current", which)},
                            "", std::chrono::seconds(30));
      for (std::size_t p = 0; p < r.out.size();) {
        auto e = r.out.find('\n', p);
        out.push_back(fmt::format("{}: {}", which, r.out.substr(p, e == std::string::npos ? std::string::npos : e - p)));
        p = e == std::string::npos ? r.out.size() : e + 1;
      }
    } catch (const std::exception& e) {
      out.push_back(fmt::format("{}: log unavailable: {}", which, e.what()));
    }
  }
  try {
    auto l = docker_.logs(container_id_, "100");
    for (const std::string* s : {&l.out, &l.err})
      for (std::size_t p = 0; p < s->size();) {
        auto e = s->find('\n', p);
        out.push_back("container: " + s->substr(p, e == std::string::npos ? std::string::npos : e - p));
        p = e == std::string::npos ? s->size() : e + 1;
      }
  } catch (const std::exception& e) {
    out.push_back(std::string("container: logs unavailable: ") + e.what());
  }
  return out;
}

void PosteioSut::cleanup() {
  if (relays_) relays_->stop();
  relays_.reset();
  if (options_.keep) {
    note(fmt::format(
        "--keep: left for inspection; remove with: docker rm -f {} ; docker network rm {} ; rm -rf {}",
        container_id_.empty() ? "-" : container_id_.substr(0, 12), plan_.network.name, data_dir_));
    return;
  }
  // Best effort, each step on its own: one failure must not leave the rest behind.
  if (!container_id_.empty()) {
    try {
      docker_.remove_container(container_id_);
    } catch (const std::exception& e) {
      note(std::string("cleanup: ") + e.what());
    }
  }
  if (!network_id_.empty()) {
    try {
      docker_.remove_network(network_id_);
    } catch (const std::exception& e) {
      note(std::string("cleanup: ") + e.what());
    }
  }
  if (!data_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(data_dir_, ec);
  }
  container_id_.clear();
  network_id_.clear();
  data_dir_.clear();
}

void PosteioSut::stop() {
  if (!started_) return;
  started_ = false;
  if (!container_id_.empty() && !options_.keep) {
    try {
      docker_.stop_container(container_id_, 10);
    } catch (const std::exception& e) {
      note(std::string("stop: ") + e.what());
    }
  }
  cleanup();
}

}  // namespace

std::unique_ptr<Sut> make_posteio_sut(PosteioOptions options) {
  return std::make_unique<PosteioSut>(std::move(options));
}

}  // namespace mailsim::sut
