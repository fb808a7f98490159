// The rendering model every report format shares (text, explain, JSON, JUnit, and later
// HTML): scenarios with their Outcomes and judged expectations, and the table layout —
// columns per direction × persona, one cell per scenario and column.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mailsim/score/expectation.hpp"
#include "mailsim/score/outcome.hpp"

namespace mailsim::report {

// The JSON schema id; bump the number on any incompatible change (docs/json-schema.md).
inline constexpr const char* kJsonSchema = "mailsim.run/1";

struct ScenarioReport {
  std::string name;
  std::string file;     // where it was loaded from ("" for scenarios built in code)
  std::string teaches;  // one sentence from the scenario file
  std::vector<score::Outcome> outcomes;  // outbound first, then inbound
  std::vector<score::ExpectationCheck> expectations;
  std::string error;    // the scenario could not run: why (then outcomes may be empty)
  bool cancelled = false;
  double elapsed_ms = 0;
  std::vector<std::string> logs;  // runner/SUT logs, shown by explain

  int unmet() const;
  bool passed() const { return error.empty() && !cancelled && unmet() == 0; }
};

struct RunReport {
  std::string mailsim_version = "0.1.0";
  std::uint64_t seed = 1;
  std::string sut = "builtin";
  std::vector<std::string> personas;  // as asked (--persona); empty = all
  std::string shard;                  // "K/N" or ""
  std::vector<ScenarioReport> scenarios;
  bool cancelled = false;

  int failed_scenarios() const;
  int unmet() const;
  bool passed() const;
};

// A table column: one direction and persona.
struct Column {
  score::Direction direction = score::Direction::outbound;
  std::string persona;
  std::string title() const;  // "gmail ↑" would need a legend; we print "out:gmail"
  bool operator==(const Column&) const = default;
};

// The columns a report needs: outbound before inbound; personas in the canonical report
// order (gmail, outlook, yahoo, mailtester, corporate), unknown ones after, by name.
std::vector<Column> columns(const RunReport& report);

// One table cell.
struct Cell {
  bool present = false;  // the scenario has an outcome for this column
  score::Disposition disposition = score::Disposition::not_sent;
  std::string text;      // "inbox", "inbox 10.0", "rejected", "—"
  bool met = true;       // every expectation on this cell holds
  std::string expected;  // the unmet expected value(s), "rejected" or "<= 6"
};
Cell cell(const ScenarioReport& scenario, const Column& column);

// The outcome of a scenario for a column, or nullptr.
const score::Outcome* find_outcome(const ScenarioReport& scenario, const Column& column);
// The expectation checks that judge one outcome.
std::vector<const score::ExpectationCheck*> checks_for(const ScenarioReport& scenario,
                                                       const score::Outcome& outcome);

}  // namespace mailsim::report
