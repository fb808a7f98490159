// Hand-built inputs shared by the persona tests: the guide's setup done right, and a run
// through the stages as a ReceivingMta does it.
#pragma once

#include <algorithm>
#include <string_view>
#include <vector>

#include "mailsim/personas/persona.hpp"

namespace mailsim::personas::test_inputs {

using auth::Result;

// A message that satisfies every provider: the guide's setup done right.
inline auth::CheckSet good_checks() {
  auth::CheckSet c;
  auth::IprevResult iprev;
  iprev.result = Result::pass;
  iprev.ptr_names = {"mx.nodeseek.com"};
  iprev.verified_name = "mx.nodeseek.com";
  c.iprev = iprev;
  auth::DnsblResult bl;
  bl.result = Result::pass;
  c.dnsbl = bl;
  auth::HeloResult helo;
  helo.result = Result::pass;
  helo.fqdn = helo.resolves = helo.matches_client = helo.matches_ptr = true;
  c.helo = helo;
  auth::SpfResult spf;
  spf.result = Result::pass;
  spf.domain = "nodeseek.com";
  c.spf_helo = spf;
  c.spf = spf;
  auth::DkimResult dkim;
  dkim.result = Result::pass;
  auth::DkimSignatureResult sig;
  sig.result = Result::pass;
  sig.domain = "nodeseek.com";
  sig.selector = "s20250309";
  sig.algorithm = "rsa-sha256";
  sig.key_bits = 2048;
  sig.body_hash_ok = true;
  dkim.signatures = {sig};
  c.dkim = dkim;
  auth::DmarcResult dmarc;
  dmarc.result = Result::pass;
  dmarc.from_domain = "nodeseek.com";
  dmarc.record = auth::DmarcRecord{.p = "reject",
                                   .sp = "",
                                   .pct = 100,
                                   .adkim_strict = false,
                                   .aspf_strict = false,
                                   .rua = "",
                                   .ruf = "",
                                   .raw = ""};
  dmarc.policy = "reject";
  dmarc.spf_aligned = dmarc.dkim_aligned = true;
  c.dmarc = dmarc;
  auth::ContentResult content;
  content.result = Result::pass;
  content.from_count = 1;
  content.has_date = content.has_message_id = content.valid_message_id = true;
  content.has_to = content.has_subject = true;
  content.body_length = 40;
  content.list_unsubscribe = content.one_click = true;
  c.content = content;
  auth::CheckResult tls;
  tls.result = Result::pass;
  c.tls = tls;
  auth::MxResult mx;
  mx.result = Result::pass;
  mx.domain = "nodeseek.com";
  mx.hosts = {{"mx.nodeseek.com", 10, {"12.34.56.78"}}};
  mx.usable_host = "mx.nodeseek.com";
  mx.usable_address = "12.34.56.78";
  c.mx = mx;
  return c;
}

inline Facts good_facts() {
  Facts f;
  f.client_ip = "12.34.56.78";
  f.helo = "mx.nodeseek.com";
  f.mail_from = "admin@nodeseek.com";
  f.from_domain = "nodeseek.com";
  f.tls = true;
  f.message_id = "sim0001";
  return f;
}

// Runs the stages in order, as a ReceivingMta does, stopping at the first reply.
struct StageRun {
  Stage stage = Stage::data;
  Verdict verdict;
  std::vector<RuleHit> hits;
  double score = 0;
  bool fired(std::string_view id) const {
    return std::any_of(hits.begin(), hits.end(), [&](const RuleHit& h) { return h.id == id; });
  }
};

inline StageRun run(std::string_view name, const auth::CheckSet& checks, const Facts& facts) {
  const Persona& p = persona(name);
  StageRun r;
  for (Stage s : {Stage::connect, Stage::helo, Stage::mail, Stage::rcpt, Stage::data}) {
    r.stage = s;
    r.verdict = p.evaluate(s, checks, facts, r.hits);
    r.hits.insert(r.hits.end(), r.verdict.fired.begin(), r.verdict.fired.end());
    if (r.verdict.reply) break;
  }
  r.score = p.score(r.hits);
  return r;
}

}  // namespace mailsim::personas::test_inputs
