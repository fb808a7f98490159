// `mailsim guide check GUIDE.md`: validates a setup guide before it is published (issue 7).
// The guide's DNS tables become the World its reader ends up with; guide-level findings
// name the line to fix; then the World runs as a scenario against every persona, and each
// message that does not reach the inbox is traced back to the table row to blame.
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>

#include <fmt/core.h>

#include "commands.hpp"
#include "mailsim/guide/check.hpp"
#include "mailsim/report/from_run.hpp"
#include "mailsim/report/html.hpp"
#include "mailsim/report/junit.hpp"
#include "mailsim/report/text.hpp"
#include "mailsim/run/runner.hpp"
#include "mailsim/world/baseline.hpp"

namespace mailsim::cli {
namespace {

struct GuideFlags {
  std::string file;
  guide::GuideOptions names;
  bool no_run = false;
  std::string sut = "builtin";
  std::uint64_t seed = 1;
  std::string junit;
  std::string html;
};

void write_out(const std::string& path, const std::string& text, const char* what) {
  if (path == "-") {
    std::cout << text << std::flush;
    return;
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f || !(f << text).flush())
    throw std::runtime_error(fmt::format("cannot write {} to {}", what, path));
}

std::string where(const guide::GuideCheck& c, int line) {
  return line > 0 ? fmt::format("{}:{}", c.guide.file, line) : c.guide.file;
}

// The first failing check of an outcome's cause chain ("spf", "iprev", …), else "smtp".
std::string failing_check(const score::Outcome& o) {
  for (const auto& f : o.findings)
    if (f.kind == score::FindingKind::check && !f.result.empty() && f.result != "pass" &&
        f.result != "none")
      return f.check;
  for (const auto& f : o.findings)
    if (f.kind == score::FindingKind::check || f.kind == score::FindingKind::fact) return f.check;
  return "smtp";
}

std::string row_at(const guide::GuideCheck& c, int line) {
  for (const auto& t : c.guide.tables)
    for (const auto& r : t.rows)
      if (r.line == line) return r.source;
  for (const auto& p : c.guide.prose)
    if (p.line == line) return p.text;
  return "";
}

// Guide findings as one JUnit testsuite: a testcase per check id that ran, failing on errors.
std::string guide_testsuite(const guide::GuideCheck& c) {
  std::string cases;
  int failures = 0;
  for (const auto& f : c.findings) {
    if (f.severity != guide::Severity::error) continue;
    ++failures;
    cases += fmt::format(
        "  <testcase classname=\"guide\" name=\"{}\"><failure message=\"{}\">{}: {}\nfix: "
        "{}\n[{}]</failure></testcase>\n",
        report::xml_escape(fmt::format("{} {}", f.id, where(c, f.line))), report::xml_escape(f.text),
        report::xml_escape(where(c, f.line)), report::xml_escape(f.row),
        report::xml_escape(f.fix), report::xml_escape(f.reference));
  }
  if (failures == 0) cases += "  <testcase classname=\"guide\" name=\"guide-level checks\"/>\n";
  return fmt::format("<testsuite name=\"guide-check {}\" tests=\"{}\" failures=\"{}\">\n{}</testsuite>\n",
                     report::xml_escape(c.guide.file), std::max(failures, 1), failures, cases);
}

int check(const GuideFlags& flags) {
  guide::GuideCheck c;
  try {
    c = guide::check_guide(guide::parse_guide_file(flags.file), flags.names);
  } catch (const guide::GuideError& e) {
    fmt::print(stderr, "mailsim: {}\n", e.what());
    return kExitUsage;
  }
  fmt::print("guide {}: domain {}, server {}, MX host {}{}\n", c.guide.file, c.names.domain, c.names.ip,
             c.names.mx_host.empty() ? "(none)" : c.names.mx_host,
             c.names.second_domain.empty() ? "" : ", second domain " + c.names.second_domain);
  fmt::print("{} table row(s) → {} record(s){}\n", [&] {
    std::size_t n = 0;
    for (const auto& t : c.guide.tables) n += t.rows.size();
    return n;
  }(), c.records.size(), c.guide.rdns ? fmt::format(", PTR from line {}", c.guide.rdns->line) : "");
  for (const auto& f : c.findings) {
    fmt::print("{}: {}: [{}] {}\n", where(c, f.line), guide::to_string(f.severity), f.id, f.text);
    if (!f.row.empty()) fmt::print("    {}\n", f.row);
    fmt::print("    fix: {}  [{}]\n", f.fix, f.reference);
  }
  fmt::print("guide-level: {} error(s), {} warning(s)\n", c.errors(), c.warnings());

  report::RunReport rep;
  rep.seed = flags.seed;
  rep.sut = flags.sut;
  run::Scenario scenario = guide::guide_scenario(c, "guide");
  std::vector<report::HtmlNote> blames;  // each miss of the run, on its guide line
  if (!flags.no_run) {
    run::RunOptions o;
    o.seed = flags.seed;
    o.sut = flags.sut;
    o.jobs = 1;
    run::Runner runner(o);
    run::RunResult result;
    try {
      result = runner.run(scenario);
    } catch (const std::exception& e) {
      result.scenario = scenario.name;
      result.error = e.what();
    }
    rep.scenarios.push_back(report::build_scenario_report(scenario, result));
    std::cout << report::render_table(rep, {report::color_wanted(STDOUT_FILENO)});
    // Each message that missed the inbox, traced to the guide line behind it.
    for (const auto& out : rep.scenarios[0].outcomes) {
      if (out.disposition == score::Disposition::inbox) continue;
      std::string chk = failing_check(out);
      int line = guide::blame_line(c, chk);
      fmt::print("{} {}: {}{} — {} → blame {}\n", score::to_string(out.direction), out.persona,
                 score::to_string(out.disposition),
                 out.reply ? " " + score::reply_summary(*out.reply) : "", chk, where(c, line));
      if (auto row = row_at(c, line); !row.empty()) fmt::print("    {}\n", row);
      if (out.fix) fmt::print("    fix: {}\n", out.fix->text);
      blames.push_back({"run", fmt::format("{} {}: {}", score::to_string(out.direction), out.persona,
                                           score::to_string(out.disposition)),
                        where(c, line), row_at(c, line),
                        fmt::format("{} failed{}", chk, out.reply ? ": " + score::reply_summary(*out.reply) : ""),
                        out.fix ? out.fix->reference : "", out.fix ? out.fix->text : ""});
    }
    fmt::print("a reader following the guide gets {}\n",
               rep.passed() ? "inbox everywhere" : "NOT inbox everywhere (see above)");
  }

  if (!flags.junit.empty()) {
    std::string xml = report::render_junit(rep);
    auto end = xml.rfind("</testsuites>");
    if (end == std::string::npos) throw std::runtime_error("JUnit renderer gave no </testsuites>");
    xml.insert(end, guide_testsuite(c));
    write_out(flags.junit, xml, "JUnit XML");
  }
  if (!flags.html.empty()) {
    report::HtmlOptions h;
    h.title = fmt::format("mailsim guide check — {}", c.guide.file);
    h.notes_title = "Guide findings";
    for (const auto& f : c.findings)
      h.notes.push_back({std::string(guide::to_string(f.severity)), f.id, where(c, f.line), f.row, f.text,
                         f.reference, f.fix});
    h.notes.insert(h.notes.end(), blames.begin(), blames.end());
    // The diff against the reference setup (the founding guide with the reader's names).
    h.zones["guide"] = {world::guide_baseline(scenario.baseline).to_zone_text(), c.world.to_zone_text()};
    if (rep.scenarios.empty()) {
      report::ScenarioReport s;
      s.name = "guide";
      s.teaches = "not run (--no-run): guide-level checks only";
      rep.scenarios.push_back(s);
    }
    write_out(flags.html, report::render_html(rep, h), "the HTML report");
  }
  bool ok = c.ok() && (flags.no_run || rep.passed());
  return ok ? kExitOk : kExitExpectationFailed;
}

}  // namespace

void register_guide_commands(CLI::App& app, int& exit_code) {
  auto* g = app.add_subcommand("guide", "Validate a markdown mail-setup guide before publishing it");
  g->require_subcommand(1);
  auto flags = std::make_shared<GuideFlags>();
  auto* c = g->add_subcommand(
      "check",
      "Read the guide's DNS tables and rDNS step, build the world its reader ends up with, run "
      "guide-level checks and every persona; exit 0 when the reader gets inbox everywhere and "
      "the guide has no error, 1 otherwise, 2 when the guide cannot be read");
  c->add_option("GUIDE", flags->file, "The guide (markdown)")->required()->check(CLI::ExistingFile);
  c->add_option("--domain", flags->names.domain, "The reader's domain (default: the guide's example)");
  c->add_option("--ip", flags->names.ip, "The reader's server IPv4 (default: the guide's example)");
  c->add_option("--second-domain", flags->names.second_domain,
                "The domain of a second-domain table (default: the one its DMARC rua names)");
  c->add_flag("--no-run", flags->no_run, "Guide-level checks only; do not run the personas");
  c->add_option("--sut", flags->sut, "Setup under test")->default_val("builtin");
  c->add_option("--seed", flags->seed, "Seed for DKIM keys and ids")->default_val(1);
  c->add_option("--junit", flags->junit, "Write JUnit XML to FILE, or '-' for stdout");
  c->add_option("--html", flags->html, "Write a self-contained HTML report to FILE");
  c->callback([flags, &exit_code] { exit_code = check(*flags); });
}

}  // namespace mailsim::cli
