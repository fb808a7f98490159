// Plain-text reports for a terminal or a CI log.
#pragma once

#include <string>

#include "mailsim/report/model.hpp"

namespace mailsim::report {

struct TextOptions {
  bool color = false;  // ANSI colours; the CLI sets it only on a TTY and never with NO_COLOR
};

// One row per scenario, a column per direction × persona; unmet cells are marked
// "✗ got (want expected)"; a summary line follows.
std::string render_table(const RunReport& report, const TextOptions& options = {});

// Full explanation of one scenario: for each outcome the cause chain with references, the
// fix, the mailtester deductions, the Authentication-Results the receiver added and the
// SMTP transcript; then every expectation with its one-line why.
std::string render_explain(const ScenarioReport& scenario, const TextOptions& options = {});
// One outcome's explanation (used by explain and by JUnit failure bodies).
std::string render_outcome(const score::Outcome& outcome, const TextOptions& options = {});

// Whether colour should be used for a stream: a TTY, and NO_COLOR unset or empty
// (no-color.org).
bool color_wanted(int fd);

// Display width of UTF-8 text (code points; ANSI escapes count zero).
std::size_t display_width(const std::string& text);

}  // namespace mailsim::report
