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
  std::string expected;  // "rejected", "inbox|spam", "not inbox", "<= 6", ">= 9.5"
  std::string where;     // "scenarios/catalog/x.yaml:12" for messages; may be ""
  bool operator==(const Expectation&) const = default;
};

// A parsed expected value. Throws std::invalid_argument naming the valid forms.
struct ExpectedValue {
  enum class Kind { dispositions, score_bound } kind = Kind::dispositions;
  std::vector<Disposition> any_of;  // dispositions: the outcome must be one of these
  bool negated = false;             // "not inbox": must be none of them
  std::string op;                   // score_bound: "<=", "<", ">=", ">", "=="
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
