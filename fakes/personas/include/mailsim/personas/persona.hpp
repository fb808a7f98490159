// Provider personas: rulebooks that turn check results into an SMTP reply and a disposition.
// Rulebooks are tables (data), each rule citing the provider page it comes from
// (../shared/reference/providers.md). Checks never reject; personas decide (DESIGN.md).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailsim/auth/checks.hpp"
#include "mailsim/smtp/reply.hpp"

namespace mailsim::personas {

// Where an SMTP transaction is when a persona is asked (and where a Delivery ended).
// `accepted` = the message was taken after end of DATA (RFC 5321 §4.1.1.4).
enum class Stage { connect, helo, mail, rcpt, data, accepted };
std::string_view to_string(Stage stage);

// What happens to the message in the end.
enum class Disposition { inbox, spam, rejected, deferred };
std::string_view to_string(Disposition disposition);

// How a persona turns fired rules into a verdict.
enum class ScoreModel {
  first_match,   // Gmail/Outlook/Yahoo: the first matching reject/defer rule wins
  mailtester,    // 10/10 minus deductions (score ≥ threshold → inbox)
  spamassassin,  // additive points; ≥ spam threshold → spam, ≥ reject threshold → 550
};

// Facts about the transaction beyond the CheckSet, known at the stage asked.
struct Facts {
  std::string client_ip;  // virtual address the receiver sees
  std::string helo;
  std::string mail_from;    // reverse-path ("" = null sender)
  std::string from_domain;  // RFC5322.From domain ("" before DATA or when absent)
  bool ipv6 = false;        // client_ip is IPv6
  bool tls = false;         // STARTTLS completed before this stage
  bool bulk = false;        // the transaction is treated as bulk (see mta::MtaConfig)
  std::string message_id;   // deterministic id for reply texts ("<id> - gsmtp")
  // The domain part of mail_from, or the HELO when the reverse-path is null (RFC 7208 §2.4).
  std::string mail_from_domain() const;
};

// Everything a rule's predicate may look at.
struct RuleInput {
  const auth::CheckSet& checks;
  const Facts& facts;
};

// One row of a rulebook.
struct Rule {
  std::string id;             // "gmail.ptr", "sa.SPF_FAIL"
  Stage stage = Stage::data;  // the stage at which the rule is evaluated
  std::string description;    // what it means, one plain sentence
  std::function<bool(const RuleInput&)> when;
  // The reply when the rule rejects/defers (code 0 = the rule does not reply, it only
  // changes the disposition or scores). Text may hold {ip} {domain} {from_domain}
  // {helo} {id} placeholders and '\n' for multi-line replies.
  int code = 0;
  std::string enhanced;
  std::string text;
  Disposition disposition = Disposition::inbox;  // inbox = no effect on the disposition
  double points = 0;   // score contribution (mailtester: negative = deduction)
  std::string source;  // "Gmail SMTP errors and codes, support.google.com/a/answer/3726730"
};

// A rule that fired, as recorded in a Delivery.
struct RuleHit {
  std::string id;
  std::string description;
  double points = 0;
  std::string source;
  Stage stage = Stage::data;
  Disposition disposition = Disposition::inbox;  // what the rule asked for
  std::string reply;                             // reply summary if it answered, else ""
  bool operator==(const RuleHit&) const = default;
};

// What a persona says at one stage.
struct Verdict {
  // Set when the persona answers this stage with a reject/deferral instead of going on.
  std::optional<smtp::Reply> reply;
  Disposition disposition = Disposition::inbox;  // final at Stage::data, provisional before
  std::vector<RuleHit> fired;                    // rules that fired at this stage
  bool operator==(const Verdict&) const = default;
};

struct Persona {
  std::string name;  // "gmail"
  std::string description;
  std::string default_host;               // "mx.google.com": greeting host and authserv-id
  std::string greeting_suffix;            // after "220 <host> ": "ESMTP {id} - gsmtp"
  std::string accept_enhanced = "2.0.0";  // enhanced code of the 250 after DATA ("" = none)
  std::string accept_text;                // 250 text after DATA: "OK {id} - gsmtp"
  std::string reply_suffix;  // appended to the last line of every reject: " {id} - gsmtp"
  ScoreModel model = ScoreModel::first_match;
  double start_score = 0;       // mailtester: 10
  double spam_threshold = 0;    // spamassassin: ≥ → spam; mailtester: < → spam
  double reject_threshold = 0;  // spamassassin: ≥ → reject (0 = never)
  smtp::Reply score_reject;     // the reply when the reject threshold is reached
  std::string score_formula;    // stated openly in every Delivery
  // mailtester: rules whose id starts with this prefix are the tester's own deductions; the
  // others are SpamAssassin's, whose (flipped) total only ever deducts — a message that
  // SpamAssassin likes (negative total) earns no bonus over its own deductions.
  std::string own_rule_prefix;
  std::vector<Rule> rules;      // in priority order

  // Runs the rules of `stage`. first_match: the first matching rule with a reply ends the
  // transaction (5xx → rejected, 4xx → deferred); every matching rule without a reply (code
  // 0) of the stage is recorded as a finding, those after the replying rule too, but they
  // change the disposition (spam wins over inbox) only when nothing replied. Replying rules
  // after the first are not evaluated. Scoring models: all matching rules are recorded;
  // at Stage::data the total decides. `prior` = rules fired at earlier stages (their
  // points count toward the total).
  Verdict evaluate(Stage stage, const auth::CheckSet& checks, const Facts& facts,
                   const std::vector<RuleHit>& prior = {}) const;
  // Score of a set of fired rules under this persona's model (start_score + Σ points).
  double score(const std::vector<RuleHit>& fired) const;
  // "220 mx.google.com ESMTP <id> - gsmtp" text (without code) for a host name.
  std::string greeting(std::string_view host, std::string_view id) const;
};

// The built-in personas: gmail, outlook, yahoo, mailtester, corporate.
const std::vector<Persona>& all_personas();
// Throws std::invalid_argument naming the known personas.
const Persona& persona(std::string_view name);

// Fills {ip} {domain} {from_domain} {helo} {id} and {spf} {dkim} {dmarc} (results as
// "Pass"/"Fail"/"None"…) in a rule text.
std::string expand(std::string_view text, const Facts& facts, const auth::CheckSet& checks);

// Predicates shared by the rulebooks (and their tests).
bool spf_pass(const auth::CheckSet& checks);
// A passing DKIM signature whose key is strong enough for Gmail: RSA ≥ 1024 bits or ed25519
// (Gmail sender guidelines, support.google.com/a/answer/81126: "DKIM key ≥ 1024 bits").
bool dkim_pass_strong(const auth::CheckSet& checks);
bool dkim_pass_any(const auth::CheckSet& checks);
bool dmarc_aligned(const auth::CheckSet& checks);

}  // namespace mailsim::personas
