// `mailsim run`, `mailsim list`, `mailsim explain`: load scenarios, run them through the
// Runner, score every probe and report (text table, JSON, JUnit XML).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "mailsim/report/from_run.hpp"
#include "mailsim/report/html.hpp"
#include "mailsim/report/json.hpp"
#include "mailsim/report/junit.hpp"
#include "mailsim/report/text.hpp"
#include "mailsim/run/runner.hpp"
#include "mailsim/run/scenario.hpp"
#include "mailsim/sut/sut.hpp"

namespace mailsim::cli {

namespace {

namespace fs = std::filesystem;

constexpr int kExitInterrupted = 130;  // 128 + SIGINT, as shells report it

// Where the scenario catalog is when no PATH is given: $MAILSIM_CATALOG, else the source
// tree's scenarios/catalog (a build run from its tree), else the installed copy.
std::optional<fs::path> default_catalog_dir() {
  if (const char* env = std::getenv("MAILSIM_CATALOG"); env && *env) return fs::path(env);
  std::error_code ec;
#ifdef MAILSIM_CATALOG_DIR
  if (fs::is_directory(MAILSIM_CATALOG_DIR, ec)) return fs::path(MAILSIM_CATALOG_DIR);
#endif
#ifdef MAILSIM_CATALOG_INSTALL_DIR
  if (fs::is_directory(MAILSIM_CATALOG_INSTALL_DIR, ec)) return fs::path(MAILSIM_CATALOG_INSTALL_DIR);
#endif
  return std::nullopt;
}

run::Catalog load_default_catalog() {
  auto dir = default_catalog_dir();
  if (!dir) {
    throw run::ScenarioError(
        "no scenario catalog found: set MAILSIM_CATALOG to a folder of *.yaml scenarios, or "
        "give PATHs");
  }
  if (!fs::is_directory(*dir)) {
    throw run::ScenarioError(fmt::format("MAILSIM_CATALOG={}: not a folder", dir->string()));
  }
  return run::load_catalog(*dir);
}

// Joins with ", " (kept out of operator+ on literals: GCC 12 -Wrestrict false positive).
void append_item(std::string& list, std::string_view item) {
  if (!list.empty()) list.append(", ");
  list.append(item);
}

std::string names_of(const run::Catalog& catalog) {
  std::string out;
  for (const auto& [name, s] : catalog) append_item(out, name);
  return out;
}

// PATHs: a *.yaml file, a folder of them, or the name of a catalog scenario.
std::vector<run::Scenario> resolve_scenarios(const std::vector<std::string>& paths) {
  std::vector<run::Scenario> out;
  std::optional<run::Catalog> catalog;
  auto add_unique = [&](run::Scenario s) {
    for (const auto& have : out) {
      if (have.name == s.name) {
        throw run::ScenarioError(fmt::format("{}: scenario name \"{}\" is already used by {}",
                                             s.source_file, s.name, have.source_file));
      }
    }
    out.push_back(std::move(s));
  };
  if (paths.empty()) {
    for (auto& [name, s] : load_default_catalog()) add_unique(std::move(s));
    return out;
  }
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      for (auto& [name, s] : run::load_catalog(p)) add_unique(std::move(s));
    } else if (fs::exists(p, ec)) {
      add_unique(run::load_scenario_file(p));
    } else {
      if (!catalog) catalog = load_default_catalog();
      auto it = catalog->find(p);
      if (it == catalog->end()) {
        throw run::ScenarioError(fmt::format(
            "{}: no such file, folder or catalog scenario; catalog scenarios: {}", p,
            names_of(*catalog)));
      }
      add_unique(it->second);
    }
  }
  return out;
}

std::vector<std::string> split_personas(const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  const auto valid = run::all_personas();
  for (const auto& item : raw) {
    std::size_t start = 0;
    while (start <= item.size()) {
      auto comma = item.find(',', start);
      std::string p = item.substr(start, comma == std::string::npos ? std::string::npos
                                                                    : comma - start);
      if (!p.empty()) {
        if (std::find(valid.begin(), valid.end(), p) == valid.end()) {
          std::string names;
          for (const auto& v : valid) append_item(names, v);
          throw CLI::ValidationError("--persona",
                                     fmt::format("unknown persona \"{}\"; valid: {}", p, names));
        }
        if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

struct RunFlags {
  std::vector<std::string> paths;
  std::string sut = "builtin";
  std::string fabric = "loopback";  // --fabric (run only): loopback | netns
  std::vector<std::string> personas_raw;
  unsigned jobs = 0;
  std::string shard;
  std::string json;
  std::string junit;
  std::string html;  // --html FILE (run, explain)
  std::uint64_t seed = 1;
  bool quiet = false;
  // --sut posteio only (issue 9): fetch the image, keep what the run made, pin another tag.
  bool pull = false;
  bool keep = false;
  std::string posteio_tag;
};

// The SUT settings the flags ask for; empty for the defaults.
sut::SutOptions sut_options_of(const RunFlags& f) {
  sut::SutOptions o;
  if (f.pull) o["pull"] = "1";
  if (f.keep) o["keep"] = "1";
  if (!f.posteio_tag.empty()) o["tag"] = f.posteio_tag;
  return o;
}

void add_common_flags(CLI::App* cmd, RunFlags& f) {
  std::string kinds;
  for (const auto& k : sut::sut_kinds()) append_item(kinds, k);
  cmd->add_option("--sut", f.sut, fmt::format("Setup under test ({})", kinds))
      ->default_val("builtin")
      ->check(CLI::IsMember(sut::sut_kinds()));
  cmd->add_flag("--pull", f.pull,
                "--sut posteio: pull the poste.io image when it is absent (never implicit)");
  cmd->add_flag("--keep", f.keep,
                "--sut posteio: leave the network, container and data folder for inspection "
                "and print how to remove them");
  cmd->add_option("--posteio-tag", f.posteio_tag,
                  "--sut posteio: image tag to run (default: the pinned 2.5.5)");
  cmd->add_option("--persona", f.personas_raw,
                  "Only these receivers, comma-separated: gmail, outlook, yahoo, mailtester, "
                  "corporate (default: all)")
      ->delimiter(',');
  cmd->add_option("--seed", f.seed, "Seed for DKIM keys, selectors and ids (same seed, same report)")
      ->default_val(1);
  cmd->add_option("--html", f.html,
                  "Also write a self-contained HTML report to FILE (matrix, cause chains, "
                  "transcripts, record diffs)");
}

// SIGINT/SIGTERM are blocked in every thread and taken by one watcher thread with
// sigtimedwait, which asks every runner in flight to stop; the run then tears down cleanly.
class InterruptWatcher {
 public:
  InterruptWatcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    thread_ = std::thread([this] {
      timespec tick{0, 100'000'000};
      while (!done_.load()) {
        int sig = sigtimedwait(&set_, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
          interrupted_.store(true);
          std::lock_guard lock(mutex_);
          for (auto* r : runners_) r->request_stop();
        }
      }
    });
  }
  ~InterruptWatcher() {
    done_.store(true);
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  void add(run::Runner* r) {
    std::lock_guard lock(mutex_);
    runners_.insert(r);
    if (interrupted_.load()) r->request_stop();
  }
  void remove(run::Runner* r) {
    std::lock_guard lock(mutex_);
    runners_.erase(r);
  }
  const std::atomic<bool>& flag() const { return interrupted_; }
  bool interrupted() const { return interrupted_.load(); }

 private:
  sigset_t set_{}, old_{};
  std::atomic<bool> done_{false};
  std::atomic<bool> interrupted_{false};
  std::mutex mutex_;
  std::set<run::Runner*> runners_;
  std::thread thread_;
};

// "[3/20] spf-broken …" on stderr once a run has taken more than a second: rewritten in
// place with \r on a TTY; on a pipe (CI logs) one plain line per finished scenario.
class Progress {
 public:
  Progress(std::size_t total, bool enabled)
      : total_(total), enabled_(enabled), tty_(isatty(STDERR_FILENO) == 1),
        start_(std::chrono::steady_clock::now()) {}
  void finished(const std::string& name, const report::ScenarioReport& s) {
    std::lock_guard lock(mutex_);
    ++done_;
    if (!enabled_) return;
    auto elapsed = std::chrono::steady_clock::now() - start_;
    if (elapsed < std::chrono::seconds(1)) return;
    std::string state = s.cancelled ? "cancelled" : !s.error.empty() ? "error"
                                                  : s.passed()      ? "ok"
                                                                    : "FAILED";
    std::string line = fmt::format("[{}/{}] {} {}", done_, total_, name, state);
    if (tty_) {
      fmt::print(stderr, "\r\x1b[K{}", line);
      shown_ = true;
    } else {
      fmt::print(stderr, "{}\n", line);
    }
    std::fflush(stderr);
  }
  void clear() {
    std::lock_guard lock(mutex_);
    if (tty_ && shown_) {
      fmt::print(stderr, "\r\x1b[K");
      std::fflush(stderr);
    }
  }

 private:
  std::size_t total_;
  bool enabled_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  std::size_t done_ = 0;
  bool shown_ = false;
};

report::RunReport run_scenarios(std::vector<run::Scenario> scenarios, const RunFlags& flags,
                                const std::vector<std::string>& personas, bool progress_on) {
  report::RunReport rep;
  rep.seed = flags.seed;
  rep.sut = flags.sut;
  rep.personas = personas;
  run::Shard shard;
  if (!flags.shard.empty()) {
    try {
      shard = run::parse_shard(flags.shard);
    } catch (const std::invalid_argument& e) {
      throw CLI::ValidationError("--shard", e.what());
    }
    rep.shard = flags.shard;
  }
  std::vector<std::string> names;
  for (const auto& s : scenarios) names.push_back(s.name);
  auto mine = run::shard_names(names, shard);
  std::vector<const run::Scenario*> todo;
  for (const auto& n : mine) {
    for (const auto& s : scenarios) {
      if (s.name == n) todo.push_back(&s);
    }
  }
  rep.scenarios.resize(todo.size());

  InterruptWatcher watcher;
  Progress progress(todo.size(), progress_on);
  unsigned jobs = flags.jobs ? flags.jobs : std::max(1u, std::thread::hardware_concurrency());
  jobs = std::min<unsigned>({jobs, static_cast<unsigned>(std::max<std::size_t>(1, todo.size())),
                             250u});
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (;;) {
      std::size_t i = next++;
      if (i >= todo.size()) return;
      const run::Scenario& sc = *todo[i];
      run::RunOptions o;
      o.seed = sc.seed.value_or(flags.seed);
      o.personas = personas;
      o.jobs = 1;
      o.run_index = static_cast<unsigned>(i);  // its own 127.N block
      o.sut = flags.sut;
      o.sut_options = sut_options_of(flags);
      o.fabric = flags.fabric;
      o.cancel = &watcher.flag();
      run::RunResult result;
      if (watcher.interrupted()) {
        result.scenario = sc.name;
        result.cancelled = true;
        result.error = "cancelled before it started";
      } else {
        run::Runner runner(o);
        watcher.add(&runner);
        try {
          result = runner.run(sc);
        } catch (const std::exception& e) {
          result.scenario = sc.name;
          result.error = e.what();
        }
        watcher.remove(&runner);
      }
      rep.scenarios[i] = report::build_scenario_report(sc, result, personas);
      progress.finished(sc.name, rep.scenarios[i]);
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < jobs; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  progress.clear();
  rep.cancelled = watcher.interrupted();
  return rep;
}

void write_file(const std::string& path, const std::string& text, const char* what) {
  if (path == "-") {
    std::cout << text << std::flush;
    return;
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error(fmt::format("cannot write {} to {}", what, path));
  f << text;
  if (!f.flush()) throw std::runtime_error(fmt::format("error writing {} to {}", what, path));
}

int exit_code_for(const report::RunReport& rep) {
  if (rep.cancelled) return kExitInterrupted;
  return rep.passed() ? kExitOk : kExitExpectationFailed;
}

// Loading problems (file:line, valid choices — from the loader) are usage errors: exit 2.
template <typename F>
int guarded(F&& body) {
  try {
    return body();
  } catch (const run::ScenarioError& e) {
    fmt::print(stderr, "mailsim: {}\n", e.what());
  } catch (const world::BreakageError& e) {
    fmt::print(stderr, "mailsim: {}\n", e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    fmt::print(stderr, "mailsim: {}\n", e.what());
  }
  return kExitUsage;
}

}  // namespace

void register_run_commands(CLI::App& app, int& exit_code) {
  // ---- mailsim run ------------------------------------------------------------------
  auto flags = std::make_shared<RunFlags>();
  auto* run_cmd = app.add_subcommand(
      "run",
      "Run scenarios and report where each probe's message landed: a table on stdout, exit "
      "0 when every expectation holds, 1 when one does not, 2 for usage or scenario errors, "
      "130 when interrupted");
  run_cmd->add_option("PATH", flags->paths,
                      "Scenario files (*.yaml), folders of them, or catalog scenario names "
                      "(default: the whole catalog)");
  add_common_flags(run_cmd, *flags);
  run_cmd->add_option("--fabric", flags->fabric,
                      "How the world is realized: loopback (default, no root) or netns (a "
                      "network namespace per world host; root; required by --sut postfix and "
                      "--sut haraka)")
      ->default_val("loopback")
      ->check(CLI::IsMember(run::fabric_kinds()));
  run_cmd->add_option("--jobs,-j", flags->jobs,
                      "Scenarios run in parallel, each in its own 127.N block (default: CPUs)");
  run_cmd->add_option("--shard", flags->shard,
                      "Run only share K of N (0-based, K/N, by sorted scenario name) for CI "
                      "fan-out");
  run_cmd->add_option("--json", flags->json,
                      "Write the JSON report (schema mailsim.run/1) to FILE, or '-' for stdout "
                      "(the table then goes to stderr)");
  run_cmd->add_option("--junit", flags->junit, "Write JUnit XML to FILE, or '-' for stdout");
  run_cmd->add_flag("--quiet,-q", flags->quiet, "No progress lines on stderr");
  run_cmd->callback([flags, &exit_code] {
    exit_code = guarded([&] {
      auto personas = split_personas(flags->personas_raw);
      // A SUT/fabric mismatch or a machine without netns is a usage error, found before any
      // scenario runs (fast and clear, issue 8).
      if (auto why = run::fabric_problem(flags->fabric, flags->sut); !why.empty()) {
        fmt::print(stderr, "mailsim: {}\n", why);
        return kExitUsage;
      }
      if (flags->sut != "posteio" && !sut_options_of(*flags).empty()) {
        fmt::print(stderr, "mailsim: --pull, --keep and --posteio-tag need --sut posteio\n");
        return kExitUsage;
      }
      auto scenarios = resolve_scenarios(flags->paths);
      auto html_scenarios = flags->html.empty() ? std::vector<run::Scenario>{} : scenarios;
      auto rep = run_scenarios(std::move(scenarios), *flags, personas, !flags->quiet);
      bool table_to_stderr = flags->json == "-" || flags->junit == "-";
      int fd = table_to_stderr ? STDERR_FILENO : STDOUT_FILENO;
      std::string table = report::render_table(rep, {report::color_wanted(fd)});
      if (table_to_stderr) {
        std::cerr << table << std::flush;
      } else {
        std::cout << table << std::flush;
      }
      if (!flags->json.empty()) write_file(flags->json, report::render_json(rep), "the JSON report");
      if (!flags->junit.empty()) write_file(flags->junit, report::render_junit(rep), "JUnit XML");
      if (!flags->html.empty())
        write_file(flags->html, report::render_run_html(rep, html_scenarios), "the HTML report");
      return exit_code_for(rep);
    });
  });

  // ---- mailsim list -----------------------------------------------------------------
  auto list_paths = std::make_shared<std::vector<std::string>>();
  auto list_long = std::make_shared<bool>(false);
  auto* list_cmd = app.add_subcommand(
      "list", "List the scenarios of the catalog (or of PATHs) with what each one teaches");
  list_cmd->add_option("PATH", *list_paths, "Scenario files or folders (default: the catalog)");
  list_cmd->add_flag("--long,-l", *list_long, "Also show breakages and expectations");
  list_cmd->callback([list_paths, list_long, &exit_code] {
    exit_code = guarded([&] {
      auto scenarios = resolve_scenarios(*list_paths);
      std::sort(scenarios.begin(), scenarios.end(),
                [](const run::Scenario& a, const run::Scenario& b) { return a.name < b.name; });
      std::size_t width = 0;
      for (const auto& s : scenarios) width = std::max(width, s.name.size());
      for (const auto& s : scenarios) {
        fmt::print("{:<{}}  {}\n", s.name, width, s.teaches.empty() ? "—" : s.teaches);
        if (!*list_long) continue;
        std::string indent(width + 2, ' ');
        if (!s.extends.empty()) fmt::print("{}extends: {}\n", indent, s.extends);
        for (const auto& b : s.own_breakages()) {
          std::string params;
          for (const auto& [k, v] : b.params) append_item(params, fmt::format("{}={}", k, v));
          fmt::print("{}breakage: {}{}\n", indent, b.name,
                     params.empty() ? std::string() : fmt::format(" {{{}}}", params));
        }
        auto show = [&](const char* dir, const run::DirectionExpectations& de) {
          if (de.empty()) return;
          std::string line;
          if (de.all) append_item(line, fmt::format("all: {}", de.all->to_string()));
          for (const auto& [p, x] : de.personas) {
            append_item(line, fmt::format("{}: {}", p, x.to_string()));
          }
          fmt::print("{}expect {}: {}\n", indent, dir, line);
        };
        show("outbound", s.expect.outbound);
        show("inbound", s.expect.inbound);
        if (!s.source_file.empty()) fmt::print("{}file: {}\n", indent, s.source_file);
      }
      return kExitOk;
    });
  });

  // ---- mailsim explain --------------------------------------------------------------
  auto explain_flags = std::make_shared<RunFlags>();
  auto* explain_cmd = app.add_subcommand(
      "explain",
      "Run one scenario and print its full explanation: cause chains ending in the smallest "
      "fix, SMTP transcripts, the Authentication-Results each receiver added, mailtester "
      "deductions, and each expectation with why");
  explain_cmd->add_option("SCENARIO", explain_flags->paths,
                          "A catalog scenario name or a scenario file")
      ->required()
      ->expected(1);
  add_common_flags(explain_cmd, *explain_flags);
  explain_cmd->callback([explain_flags, &exit_code] {
    exit_code = guarded([&] {
      auto personas = split_personas(explain_flags->personas_raw);
      auto scenarios = resolve_scenarios(explain_flags->paths);
      explain_flags->jobs = 1;
      auto html_scenarios = explain_flags->html.empty() ? std::vector<run::Scenario>{} : scenarios;
      auto rep = run_scenarios(std::move(scenarios), *explain_flags, personas, false);
      report::TextOptions options{report::color_wanted(STDOUT_FILENO)};
      for (const auto& s : rep.scenarios) std::cout << report::render_explain(s, options);
      std::cout << std::flush;
      if (!explain_flags->html.empty())
        write_file(explain_flags->html, report::render_run_html(rep, html_scenarios),
                   "the HTML report");
      return exit_code_for(rep);
    });
  });
}

}  // namespace mailsim::cli
