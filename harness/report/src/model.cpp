#include "mailsim/report/model.hpp"

#include <algorithm>
#include <array>

namespace mailsim::report {

int ScenarioReport::unmet() const {
  return static_cast<int>(std::count_if(expectations.begin(), expectations.end(),
                                        [](const score::ExpectationCheck& c) { return !c.met; }));
}

int RunReport::failed_scenarios() const {
  return static_cast<int>(std::count_if(scenarios.begin(), scenarios.end(),
                                        [](const ScenarioReport& s) { return !s.passed(); }));
}

int RunReport::unmet() const {
  int n = 0;
  for (const auto& s : scenarios) n += s.unmet();
  return n;
}

bool RunReport::passed() const { return !cancelled && failed_scenarios() == 0; }

std::string Column::title() const {
  return std::string(direction == score::Direction::outbound ? "out:" : "in:") + persona;
}

namespace {

// The canonical report order of the personas (world::persona_domains()).
constexpr std::array<std::string_view, 5> kPersonaOrder{"gmail", "outlook", "yahoo",
                                                        "mailtester", "corporate"};

std::size_t persona_rank(const std::string& persona) {
  auto it = std::find(kPersonaOrder.begin(), kPersonaOrder.end(), persona);
  return static_cast<std::size_t>(it - kPersonaOrder.begin());
}

}  // namespace

std::vector<Column> columns(const RunReport& report) {
  std::vector<Column> out;
  auto add = [&](score::Direction d, const std::string& persona) {
    Column c{d, persona};
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(std::move(c));
  };
  for (const auto& s : report.scenarios) {
    for (const auto& o : s.outcomes) add(o.direction, o.persona);
    // An expectation about a persona that produced no outcome still gets its column, so
    // the unmet cell is visible.
    for (const auto& c : s.expectations) {
      if (c.persona != "all") add(c.expectation.direction, c.persona);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Column& a, const Column& b) {
    if (a.direction != b.direction) return a.direction == score::Direction::outbound;
    auto ra = persona_rank(a.persona), rb = persona_rank(b.persona);
    if (ra != rb) return ra < rb;
    return a.persona < b.persona;
  });
  return out;
}

const score::Outcome* find_outcome(const ScenarioReport& scenario, const Column& column) {
  for (const auto& o : scenario.outcomes) {
    if (o.direction == column.direction && o.persona == column.persona) return &o;
  }
  return nullptr;
}

std::vector<const score::ExpectationCheck*> checks_for(const ScenarioReport& scenario,
                                                       const score::Outcome& outcome) {
  std::vector<const score::ExpectationCheck*> out;
  for (const auto& c : scenario.expectations) {
    if (c.expectation.direction == outcome.direction && c.persona == outcome.persona) {
      out.push_back(&c);
    }
  }
  return out;
}

Cell cell(const ScenarioReport& scenario, const Column& column) {
  Cell c;
  const score::Outcome* o = find_outcome(scenario, column);
  std::vector<const score::ExpectationCheck*> checks;
  if (o) {
    c.present = true;
    c.disposition = o->disposition;
    c.text = std::string(score::to_string(o->disposition));
    if (o->score) c.text += " " + score::format_score(o->score->value);
    checks = checks_for(scenario, *o);
  } else {
    c.text = "—";
    for (const auto& x : scenario.expectations) {
      if (x.expectation.direction == column.direction && x.persona == column.persona) {
        checks.push_back(&x);
      }
    }
  }
  for (const auto* x : checks) {
    if (x->met) continue;
    c.met = false;
    if (!c.expected.empty()) c.expected += ", ";
    c.expected += x->expectation.expected;
  }
  return c;
}

}  // namespace mailsim::report
