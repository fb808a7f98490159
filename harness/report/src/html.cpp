// The self-contained HTML report (html.hpp). No external resource of any kind: the CSS and
// the script that opens a cell's details are inline, so the file works offline and inside a
// CI artifact viewer.
#include "mailsim/report/html.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "mailsim/run/scenario.hpp"
#include "mailsim/world/baseline.hpp"

namespace mailsim::report {
namespace {

constexpr const char* kStyle = R"css(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#1d2330;background:#fff}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.15rem;margin:2rem 0 .5rem;border-bottom:1px solid #ccd}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f1f3f7}
table.matrix td.cell{text-align:center;font-weight:600;min-width:5.5rem}
table.matrix td.cell a{color:inherit;text-decoration:none;display:block}
.disp-inbox{background:#c8efcf;color:#0c4a1c}.disp-spam{background:#ffe9a8;color:#5a4100}
.disp-rejected{background:#f9c4c4;color:#6b0c0c}.disp-deferred{background:#ffd4a8;color:#6b3500}
.disp-unreachable{background:#d9c8f0;color:#3a1670}.disp-not_sent{background:#e3e5ea;color:#444}
.disp-none{background:#fafafa;color:#999}
.unmet{outline:3px solid #c00;outline-offset:-3px}
.summary{margin:.3rem 0 1rem;font-weight:600}.pass{color:#0c6b26}.fail{color:#b00}
details.outcome{border:1px solid #ccd;border-radius:4px;margin:.4rem 0;padding:.2rem .6rem}
details.outcome>summary{cursor:pointer;font-weight:600;padding:.2rem}
ol.chain li{margin:.2rem 0}.kind{display:inline-block;min-width:4.2rem;font-size:.75rem;text-transform:uppercase;color:#556}
.ref{color:#556;font-size:.85rem}.fix{background:#e6f4ff;border-left:4px solid #1a73e8;padding:.4rem .6rem}
pre{background:#f6f7f9;padding:.5rem;overflow-x:auto;font-size:.82rem;white-space:pre-wrap;word-break:break-all}
pre.diff ins{background:#c8efcf;text-decoration:none;display:block}pre.diff del{background:#f9c4c4;text-decoration:none;display:block}
.sev-error{color:#b00;font-weight:600}.sev-warning{color:#8a5a00;font-weight:600}.sev-note{color:#556}
)css";

// Opens the <details> a matrix cell links to (also on load with a #fragment).
constexpr const char* kScript = R"js(
function openHash(){var id=location.hash.slice(1);if(!id)return;var e=document.getElementById(id);
if(e&&e.tagName==='DETAILS'){e.open=true;e.scrollIntoView();}}
window.addEventListener('hashchange',openHash);window.addEventListener('load',openHash);
)js";

std::string anchor(std::size_t scenario, const Column& c) {
  return fmt::format("o-{}-{}-{}", scenario, to_string(c.direction), c.persona);
}

std::string disp_class(score::Disposition d) { return fmt::format("disp-{}", score::to_string(d)); }

void render_outcome_html(std::ostringstream& o, const ScenarioReport& s, const score::Outcome& out,
                         const std::string& id) {
  auto checks = checks_for(s, out);
  bool met = std::all_of(checks.begin(), checks.end(), [](const auto* c) { return c->met; });
  o << "<details class=\"outcome" << (met ? "" : " unmet")
    << "\" id=\"" << id << "\"><summary class=\"" << disp_class(out.disposition) << "\">"
    << html_escape(to_string(out.direction)) << " · "
    << html_escape(out.persona) << " — <span class=\"disposition\">"
    << html_escape(score::to_string(out.disposition)) << "</span>";
  if (out.reply) o << " · <span class=\"reply\">" << html_escape(score::reply_summary(*out.reply)) << "</span>";
  if (out.score) o << " · mailtester " << html_escape(score::format_score(out.score->value)) << "/10";
  o << "</summary>\n";

  if (!out.findings.empty()) {
    o << "<h4>Cause chain</h4><ol class=\"chain\">";
    for (const auto& f : out.findings) {
      o << "<li class=\"finding kind-" << score::to_string(f.kind) << "\"><span class=\"kind\">"
        << html_escape(score::to_string(f.kind)) << "</span> ";
      if (!f.check.empty()) o << "<b>" << html_escape(f.check) << "</b>";
      if (!f.result.empty()) o << "=" << html_escape(f.result);
      o << " " << html_escape(f.text);
      if (!f.reference.empty()) o << " <span class=\"ref\">[" << html_escape(f.reference) << "]</span>";
      o << "</li>";
    }
    o << "</ol>\n";
  }
  if (out.fix)
    o << "<p class=\"fix\"><b>Fix:</b> " << html_escape(out.fix->text)
      << (out.fix->reference.empty() ? "" : " <span class=\"ref\">[" + html_escape(out.fix->reference) + "]</span>")
      << "</p>\n";
  for (const auto* c : checks)
    o << "<p class=\"expect " << (c->met ? "pass" : "fail") << "\">" << (c->met ? "✓ " : "✗ ")
      << html_escape(c->why) << "</p>";
  if (out.score) {
    o << "<h4>mailtester deductions</h4><table class=\"deductions\"><tr><th>rule</th><th>points</th>"
         "<th>why</th><th>source</th></tr>";
    for (const auto& d : out.score->deductions)
      o << "<tr><td>" << html_escape(d.rule) << "</td><td>" << html_escape(score::format_score(d.points))
        << "</td><td>" << html_escape(d.description) << "</td><td>" << html_escape(d.source) << "</td></tr>";
    if (out.score->deductions.empty()) o << "<tr><td colspan=\"4\">none</td></tr>";
    o << "</table>\n";
  }
  if (!out.authentication_results.empty())
    o << "<h4>Authentication-Results</h4><pre class=\"auth-results\">"
      << html_escape(out.authentication_results) << "</pre>\n";
  if (!out.transcript.empty()) {
    o << "<h4>SMTP transcript</h4><pre class=\"transcript\">";
    for (const auto& l : out.transcript) o << html_escape(l) << "\n";
    o << "</pre>\n";
  }
  o << "</details>\n";
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<std::string> zone_diff(std::string_view baseline, std::string_view actual) {
  auto lines = [](std::string_view text) {
    std::vector<std::string> v;
    std::size_t pos = 0;
    while (pos < text.size()) {
      auto nl = text.find('\n', pos);
      std::string l(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
      // Comments and blank lines are layout, not records.
      if (!l.empty() && l[0] != ';') v.push_back(l);
      if (nl == std::string_view::npos) break;
      pos = nl + 1;
    }
    return v;
  };
  auto b = lines(baseline), a = lines(actual);
  std::multiset<std::string> bs(b.begin(), b.end()), as(a.begin(), a.end());
  std::vector<std::string> out;
  for (const auto& l : b)
    if (auto it = as.find(l); it != as.end()) as.erase(it);
    else out.push_back("- " + l);
  for (const auto& l : a)
    if (auto it = bs.find(l); it != bs.end()) bs.erase(it);
    else out.push_back("+ " + l);
  return out;
}

HtmlZones zones_of(const run::Scenario& scenario) {
  return {world::guide_baseline(scenario.baseline).to_zone_text(), scenario.world.to_zone_text()};
}

std::map<std::string, HtmlZones> zones_of(const std::vector<run::Scenario>& scenarios) {
  std::map<std::string, HtmlZones> out;
  for (const auto& s : scenarios) out[s.name] = zones_of(s);
  return out;
}

std::string render_run_html(const RunReport& report, const std::vector<run::Scenario>& scenarios) {
  HtmlOptions options;
  options.title = report.scenarios.size() == 1 ? "mailsim — " + report.scenarios[0].name
                                               : fmt::format("mailsim run — {} scenarios", report.scenarios.size());
  options.zones = zones_of(scenarios);
  return render_html(report, options);
}

std::string render_html(const RunReport& report, const HtmlOptions& options) {
  std::ostringstream o;
  auto cols = columns(report);
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
       "<title>" << html_escape(options.title) << "</title><style>" << kStyle << "</style>"
       "<script>" << kScript << "</script></head><body>\n";
  o << "<h1 id=\"title\">" << html_escape(options.title) << "</h1>\n";
  int scen = static_cast<int>(report.scenarios.size());
  o << "<p class=\"summary " << (report.passed() ? "pass" : "fail") << "\" id=\"summary\">"
    << fmt::format("{} scenario{}, {} failed, {} unmet expectation{} · seed {} · sut {}", scen,
                   scen == 1 ? "" : "s", report.failed_scenarios(), report.unmet(),
                   report.unmet() == 1 ? "" : "s", report.seed, report.sut)
    << (report.cancelled ? " · cancelled" : "") << "</p>\n";

  // The matrix first: what a reader scans.
  o << "<table class=\"matrix\" id=\"matrix\"><tr><th>scenario</th>";
  for (const auto& c : cols) o << "<th>" << html_escape(c.title()) << "</th>";
  o << "</tr>\n";
  for (std::size_t i = 0; i < report.scenarios.size(); ++i) {
    const auto& s = report.scenarios[i];
    o << "<tr><th><a href=\"#s-" << i << "\">" << html_escape(s.name) << "</a>"
      << (s.error.empty() ? "" : " <span class=\"fail\">(error)</span>") << "</th>";
    for (const auto& c : cols) {
      Cell cl = cell(s, c);
      if (!cl.present) {
        o << "<td class=\"cell disp-none" << (cl.met ? "" : " unmet") << "\">"
          << html_escape(cl.text.empty() ? "—" : cl.text) << "</td>";
        continue;
      }
      o << "<td class=\"cell " << disp_class(cl.disposition) << (cl.met ? "" : " unmet")
        << "\" data-disposition=\"" << score::to_string(cl.disposition) << "\"><a href=\"#"
        << anchor(i, c) << "\">" << html_escape(cl.text)
        << (cl.met ? "" : " ✗ want " + html_escape(cl.expected)) << "</a></td>";
    }
    o << "</tr>\n";
  }
  o << "</table>\n";

  if (!options.notes.empty()) {
    o << "<h2 id=\"notes\">" << html_escape(options.notes_title) << "</h2><table class=\"notes\">"
         "<tr><th>severity</th><th>where</th><th>finding</th><th>fix</th></tr>\n";
    for (const auto& n : options.notes) {
      o << "<tr class=\"note\" data-severity=\"" << html_escape(n.severity) << "\" data-id=\"" << html_escape(n.id)
        << "\"><td class=\"sev-" << html_escape(n.severity) << "\">" << html_escape(n.severity)
        << "</td><td>" << html_escape(n.where);
      if (!n.row.empty()) o << "<pre>" << html_escape(n.row) << "</pre>";
      o << "</td><td><b>" << html_escape(n.id) << "</b> " << html_escape(n.text)
        << " <span class=\"ref\">[" << html_escape(n.reference) << "]</span></td><td>"
        << html_escape(n.fix) << "</td></tr>\n";
    }
    o << "</table>\n";
  }

  for (std::size_t i = 0; i < report.scenarios.size(); ++i) {
    const auto& s = report.scenarios[i];
    o << "<section class=\"scenario\" id=\"s-" << i << "\"><h2>" << html_escape(s.name) << "</h2>\n";
    if (!s.teaches.empty()) o << "<p class=\"teaches\">" << html_escape(s.teaches) << "</p>\n";
    if (!s.file.empty()) o << "<p class=\"ref\">" << html_escape(s.file) << "</p>\n";
    if (!s.error.empty()) o << "<p class=\"fail error\">" << html_escape(s.error) << "</p>\n";
    if (auto z = options.zones.find(s.name); z != options.zones.end()) {
      auto diff = zone_diff(z->second.baseline, z->second.actual);
      o << "<h3>Records changed from the baseline</h3>";
      if (diff.empty()) {
        o << "<p class=\"nodiff\">none — the baseline's records as they are</p>\n";
      } else {
        o << "<pre class=\"diff\">";
        for (const auto& l : diff)
          o << (l[0] == '+' ? "<ins>" : "<del>") << html_escape(l) << (l[0] == '+' ? "</ins>" : "</del>");
        o << "</pre>\n";
      }
    }
    for (const auto& c : cols)
      if (const auto* out = find_outcome(s, c)) render_outcome_html(o, s, *out, anchor(i, c));
    if (!s.logs.empty()) {
      o << "<details class=\"logs\"><summary>logs</summary><pre>";
      for (const auto& l : s.logs) o << html_escape(l) << "\n";
      o << "</pre></details>\n";
    }
    o << "</section>\n";
  }
  o << "</body></html>\n";
  return o.str();
}

}  // namespace mailsim::report
