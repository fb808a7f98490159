// The Scorer: evidence of one probe (a receiver's record, or the sender's attempt log when no
// receiver saw anything) → Outcome with findings in causal order and the smallest fix.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mailsim/auth/checks.hpp"
#include "mailsim/mta/delivery.hpp"
#include "mailsim/score/fixes.hpp"
#include "mailsim/score/outcome.hpp"
#include "mailsim/smtp/reply.hpp"

namespace mailsim::score {

// A persona rule that fired while the receiver decided (points feed the mailtester score).
struct RuleHit {
  std::string rule;         // "SPF_FAIL", "gmail.5.7.25"
  double points = 0;         // as the persona scores it: for mailtester, negative = deduction
  std::string description;
  std::string source;       // provider page or rule set it comes from
};

// Why the sender side got no SMTP verdict (or gave up). The SUT's own attempt log.
enum class SenderFailure {
  none,
  connect_timeout,        // TCP SYN unanswered: typically the hosting provider blocks port 25
  connect_refused,        // RST: nothing listens on 25 at that address
  proxy_no_smtp,          // the address is a web proxy (Cloudflare) that carries no SMTP
  no_mx,                  // no MX and no A/AAAA for the domain (RFC 5321 §5.1)
  dns_failure,            // MX/A lookup SERVFAIL/timeout
  deferred_after_retries, // every attempt got 4xx until the queue lifetime ran out
  not_submitted,          // the SUT refused or never got the message
};
std::string_view to_string(SenderFailure failure);

struct SenderAttempt {
  SenderFailure failure = SenderFailure::none;
  std::string target_host;  // "gmail-smtp-in.l.google.com" or the SUT's MX for inbound
  std::string target_ip;    // the virtual address dialled
  int port = 25;
  int attempts = 0;
  std::string detail;       // free text from the sender ("connect: timed out after 30 s")
};

// Everything the Scorer reads about one probe.
struct Evidence {
  std::string scenario;
  Direction direction = Direction::outbound;
  std::string persona;
  // The receiver's side (absent when no receiver was reached).
  bool received = false;                 // a receiver recorded a delivery
  std::string receiver_disposition;      // "inbox", "spam", "rejected", "deferred"
  std::optional<smtp::Reply> final_reply;
  auth::CheckSet checks;
  std::vector<RuleHit> rules;            // rules fired, in the order the persona fired them
  std::string verdict_source;            // provider page behind the final reply
  std::vector<std::string> transcript;
  std::string authentication_results;
  std::optional<double> receiver_score;  // the mailtester persona's own /10 mark, if given
  // The sender's side.
  SenderAttempt sender;
  // Names for the fix templates: the SUT's domain, MX host, address.
  std::string domain;     // "nodeseek.com"
  std::string sut_host;   // "mx.nodeseek.com"
  std::string client_ip;  // the address the receiver saw
  std::string server_ip;  // the SUT's own (guide) address, in both directions
};

// Fills the receiver side of `evidence` from a ReceivingMta's record (checks, final reply,
// disposition, rules with points and sources, transcript, Authentication-Results).
void add_delivery(Evidence& evidence, const mta::Delivery& delivery);

// Evidence → Outcome. Deterministic: same evidence, same outcome.
Outcome score_probe(const Evidence& evidence, const std::vector<FixRule>& table = fix_table());

// The findings alone (causal order, without the fix), for callers that merge chains.
std::vector<Finding> derive_findings(const Evidence& evidence);

// Names a Cloudflare address ("104.21.48.10" → "Cloudflare"), "" otherwise. Ranges from
// cloudflare.com/ips (see ../shared/reference/providers.md).
std::string address_owner(const std::string& address);

// RFC-vocabulary name of an auth result (kept here so scoring does not depend on the auth
// library being linked).
std::string_view result_name(auth::Result result);

}  // namespace mailsim::score
