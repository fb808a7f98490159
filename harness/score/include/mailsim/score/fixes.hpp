// The fix table: from a cause (check + result + cause pattern) to the smallest fix.
// It is data — rows in a table, matched in order — so a new cause is a new row, not a new
// branch in the scorer.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mailsim/score/outcome.hpp"

namespace mailsim::score {

struct FixRule {
  std::string id;         // stable name, used in JSON and tests: "proxy-on-mx"
  std::string check;      // the Finding::check it applies to ("iprev", "sut", …)
  std::string result;     // the Finding::result it applies to; "" = any
  std::string pattern;    // ECMAScript regex, case-insensitive, searched in the finding text;
                          // "" = any. Capture groups are available as {1}, {2}… in `fix`.
  std::string fix;        // template: {domain} {sut_host} {host_label} {client_ip} {server_ip} {1} …
  std::string reference;  // RFC section or provider / guide page the advice rests on
};

// The built-in table, most specific rows first.
const std::vector<FixRule>& fix_table();

// Values the templates may use. Unknown placeholders stay as written.
using FixVariables = std::map<std::string, std::string>;

// The fix for the earliest finding (causal order) that some row matches, or nullopt.
// Facts are matched too: a Cloudflare address in an answer is itself the cause.
std::optional<Fix> find_fix(const std::vector<Finding>& findings, const FixVariables& variables,
                            const std::vector<FixRule>& table = fix_table());

// Fills {name} placeholders from `variables` and {N} from `captures` (0 = whole match).
std::string expand_fix_template(const std::string& text, const FixVariables& variables,
                                const std::vector<std::string>& captures = {});

}  // namespace mailsim::score
