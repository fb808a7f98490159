// The record of one delivery attempt at a ReceivingMta: accepted, rejected, deferred or
// dropped. The "report" area turns Deliveries into Outcomes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mailsim/auth/checks.hpp"
#include "mailsim/personas/persona.hpp"
#include "mailsim/smtp/reply.hpp"
#include "mailsim/smtp/transcript.hpp"

namespace mailsim::mta {

struct Delivery {
  std::uint64_t sequence = 0;  // 1, 2, … per ReceivingMta, in order of completion
  std::string persona;         // "gmail"
  std::string receiver_host;   // "mx.google.com" (greeting host, authserv-id)
  std::string client_ip;       // the virtual address the receiver saw
  std::string helo;            // EHLO/HELO argument ("" if never sent)
  // MAIL FROM and RCPT TO: the recipients accepted at end of DATA; before that, every
  // recipient the client tried (so a refused RCPT shows whom it was for).
  auth::Envelope envelope;
  auth::TlsFacts tls;  // STARTTLS facts (used=false without TLS)
  bool bulk = false;   // treated as bulk (MtaConfig bulk detection)

  // The stage the attempt ended at: `accepted` when the message was taken after DATA;
  // otherwise where the persona rejected/deferred or where the client left.
  personas::Stage ended_at = personas::Stage::connect;
  smtp::Reply final_reply;           // the last reply the receiver sent
  // Every reply of this attempt, in order: the session's (greeting, EHLO) then this
  // transaction's; earlier transactions of the same session are in their own Deliveries.
  std::vector<smtp::Reply> replies;
  auth::CheckSet checks;             // results of every check run so far
  personas::Disposition disposition = personas::Disposition::rejected;
  std::vector<personas::RuleHit> rules;  // every rule that fired, stage by stage
  // mailtester: the /10 mark; corporate: the SpamAssassin-style total; others: Σ points.
  double score = 0;
  std::string score_formula;  // how `score` was computed, stated openly

  std::string authentication_results;  // the A-R field added (no CRLF), "" if not accepted
  std::string message;                 // stored message, A-R header first ("" if none)
  std::vector<smtp::TranscriptLine> transcript;  // the session's transcript (smtp layer)
  std::string note;  // why an attempt ended without a reply (e.g. "client quit")

  bool accepted() const { return ended_at == personas::Stage::accepted; }
};

}  // namespace mailsim::mta
