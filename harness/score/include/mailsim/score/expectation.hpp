// Expectations of a scenario (`expect: outbound: {gmail: rejected, mailtester: "<= 6"}`)
// evaluated against Outcomes: each one met or not, with a one-line why.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mailsim/score/outcome.hpp"

namespace mailsim::score {

struct Expectation {
  Direction direction = Direction::outbound;
  std::string persona;   // a persona name, or "all"
  std::string expected;  // "rejected", "inbox|spam", "not inbox", "<= 6", "rejected 5.7.25",
                         // "inbox, >= 9"
  std::string where;     // "scenarios/catalog/x.yaml:12" for messages; may be ""
  bool operator==(const Expectation&) const = default;
};

// A parsed expected value: comma-separated parts, each a disposition (or alternatives
// "inbox|spam", or "not inbox") optionally followed by the enhanced status code the reply
// must carry ("rejected 5.7.25"), or a mailtester score bound ("<= 6", "10" = exactly 10).
// Every part must hold. Throws std::invalid_argument naming the valid forms.
struct ExpectedValue {
  std::vector<Disposition> any_of;  // empty: no disposition constraint
  bool negated = false;             // "not inbox": must be none of them
  std::string enhanced_code;        // "5.7.25" or ""
  bool has_score = false;
  std::string op;                   // "<=", "<", ">=", ">", "=="
  double bound = 0;
};
ExpectedValue parse_expected(const std::string& expected);

struct ExpectationCheck {
  Expectation expectation;
  std::string persona;  // the concrete persona ("all" expanded)
  bool met = false;
  std::string actual;   // "rejected", "inbox 10.0", "no outcome"
  std::string why;      // one line: "gmail outbound: expected rejected, got inbox (…)"
  bool operator==(const ExpectationCheck&) const = default;
};

ExpectationCheck evaluate(const Expectation& expectation, const Outcome& outcome);

// Evaluates every expectation against the outcomes of one scenario. "all" expands to every
// outcome of that direction; an expectation with no outcome to judge is unmet, saying so.
std::vector<ExpectationCheck> evaluate_all(const std::vector<Expectation>& expectations,
                                           const std::vector<Outcome>& outcomes);

}  // namespace mailsim::score
