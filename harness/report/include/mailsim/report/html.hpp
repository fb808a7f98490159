// The HTML report: one self-contained file (inline CSS and a few lines of inline script, no
// network fetches). At the top the scenario × persona matrix coloured by disposition; each
// cell links to its outcome, which opens the cause chain (DNS record → check → provider's
// reply → fix), the mailtester deductions, the Authentication-Results and the SMTP
// transcript. Records that differ from the scenario's baseline are shown as a diff.
// Renders the same model as text/JSON/JUnit (model.hpp).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mailsim/report/model.hpp"

namespace mailsim::run {
struct Scenario;
}

namespace mailsim::report {

// A finding about the input rather than about one probe (guide check findings), shown in a
// table above the matrix.
struct HtmlNote {
  std::string severity;   // "error", "warning", "note"
  std::string id;         // "mx.no-a"
  std::string where;      // "guide.md:36"
  std::string row;        // the source line it blames
  std::string text;
  std::string reference;
  std::string fix;
};

// The records of one scenario: the baseline it extends and what it actually published, both
// as zone text (world::World::to_zone_text()). The report shows the line diff.
struct HtmlZones {
  std::string baseline;
  std::string actual;
};

struct HtmlOptions {
  std::string title = "mailsim report";
  std::string notes_title = "Findings";
  std::vector<HtmlNote> notes;
  std::map<std::string, HtmlZones> zones;  // scenario name → its zones
};

// The whole page.
std::string render_html(const RunReport& report, const HtmlOptions& options = {});

// The zones of a scenario: guide_baseline(scenario.baseline) against scenario.world — so
// `mailsim run --html` shows each breakage as the records it changed.
HtmlZones zones_of(const run::Scenario& scenario);
// The same for every scenario of a run, keyed by name (HtmlOptions::zones).
std::map<std::string, HtmlZones> zones_of(const std::vector<run::Scenario>& scenarios);

// What `mailsim run/explain --html FILE` writes: the page for a run of `scenarios`, titled
// after the run, with each scenario's record diff.
std::string render_run_html(const RunReport& report, const std::vector<run::Scenario>& scenarios);

// One line per record that differs: "- <zone line>" for removed, "+ <zone line>" for added,
// in the order of the actual zone text (removed ones first, in baseline order).
std::vector<std::string> zone_diff(std::string_view baseline, std::string_view actual);

// Escapes text for HTML element content and attribute values (& < > " ').
std::string html_escape(std::string_view text);

}  // namespace mailsim::report
