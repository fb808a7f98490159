#include "mailsim/smtp/status_codes.hpp"

#include <array>
#include <cctype>
#include <utility>

namespace mailsim::smtp::esc {

namespace {

// subject.detail → title, from RFC 3463 §3 and the IANA registry (RFC 5248, RFC 7372,
// RFC 7505, RFC 6531).
constexpr std::array<std::pair<std::string_view, std::string_view>, 51> kTitles{{
    {"0.0", "Other undefined status"},
    {"1.0", "Other address status"},
    {"1.1", "Bad destination mailbox address"},
    {"1.2", "Bad destination system address"},
    {"1.3", "Bad destination mailbox address syntax"},
    {"1.4", "Destination mailbox address ambiguous"},
    {"1.5", "Destination address valid"},
    {"1.6", "Destination mailbox has moved, no forwarding address"},
    {"1.7", "Bad sender's mailbox address syntax"},
    {"1.8", "Bad sender's system address"},
    {"2.0", "Other or undefined mailbox status"},
    {"2.1", "Mailbox disabled, not accepting messages"},
    {"2.2", "Mailbox full"},
    {"2.3", "Message length exceeds administrative limit"},
    {"2.4", "Mailing list expansion problem"},
    {"3.0", "Other or undefined mail system status"},
    {"3.1", "Mail system full"},
    {"3.2", "System not accepting network messages"},
    {"3.3", "System not capable of selected features"},
    {"3.4", "Message too big for system"},
    {"3.5", "System incorrectly configured"},
    {"4.0", "Other or undefined network or routing status"},
    {"4.1", "No answer from host"},
    {"4.2", "Bad connection"},
    {"4.3", "Directory server failure"},
    {"4.4", "Unable to route"},
    {"4.5", "Mail system congestion"},
    {"4.6", "Routing loop detected"},
    {"4.7", "Delivery time expired"},
    {"5.0", "Other or undefined protocol status"},
    {"5.1", "Invalid command"},
    {"5.2", "Syntax error"},
    {"5.3", "Too many recipients"},
    {"5.4", "Invalid command arguments"},
    {"5.5", "Wrong protocol version"},
    {"6.0", "Other or undefined media error"},
    {"6.1", "Media not supported"},
    {"6.3", "Conversion required but not supported"},
    {"6.7", "Non-ASCII addresses not permitted for that sender/recipient"},
    {"7.0", "Other or undefined security status"},
    {"7.1", "Delivery not authorized, message refused"},
    {"7.7", "Message integrity failure"},
    {"7.8", "Authentication credentials invalid"},
    {"7.10", "Encryption needed"},
    {"7.11", "Encryption required for requested authentication mechanism"},
    {"7.20", "No passing DKIM signature found"},
    {"7.23", "SPF validation failed"},
    {"7.24", "SPF validation error"},
    {"7.25", "Reverse DNS validation failed"},
    {"7.26", "Multiple authentication checks failed"},
    {"7.27", "Sender address has null MX"},
}};

bool digits(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

bool well_formed(std::string_view enhanced) {
  // RFC 3463 §2: status-code = class "." subject "." detail; class = "2"/"4"/"5",
  // subject = 1*3digit, detail = 1*3digit.
  if (enhanced.size() < 5) return false;
  if (enhanced[0] != '2' && enhanced[0] != '4' && enhanced[0] != '5') return false;
  if (enhanced[1] != '.') return false;
  auto rest = enhanced.substr(2);
  auto dot = rest.find('.');
  if (dot == std::string_view::npos) return false;
  return digits(rest.substr(0, dot), 3) && digits(rest.substr(dot + 1), 3);
}

std::string_view describe(std::string_view enhanced) {
  if (!well_formed(enhanced)) return {};
  auto subject_detail = enhanced.substr(2);
  for (const auto& [key, title] : kTitles)
    if (key == subject_detail) return title;
  return {};
}

}  // namespace mailsim::smtp::esc
