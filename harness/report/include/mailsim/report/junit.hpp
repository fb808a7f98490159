// JUnit XML for CI: a <testsuite> per scenario, a <testcase> per direction × persona.
// A testcase fails when an expectation on it does not hold; the failure carries the why
// and the full explanation. A scenario that could not run is one <testcase> with <error>.
#pragma once

#include <string>
#include <string_view>

#include "mailsim/report/model.hpp"

namespace mailsim::report {

std::string render_junit(const RunReport& report);

// Escapes text for XML 1.0 character data and attribute values (& < > " '), and replaces
// characters XML 1.0 cannot carry (C0 controls but TAB/LF/CR, invalid UTF-8) with U+FFFD.
std::string xml_escape(std::string_view text);

}  // namespace mailsim::report
