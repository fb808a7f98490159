// `--sut haraka`: Haraka (the MTA inside poste.io, ../shared/reference/posteio.md) from npm
// (third_party/haraka/node_modules, installed by scripts/bootstrap), run with `node` inside
// the SUT host's namespace of the netns fabric (issue 8). One directory per run holds the
// config, the outbound queue, the inbound mail store and Haraka's log; removed at stop()
// (kept with MAILSIM_KEEP_RUN_DIR=1).
//
//   start()      writes the TLS files; checks node, Haraka and ctx.netns
//   provision()  config for the domain — smtp.ini (listen on the SUT's addresses :25/:587
//                and 127.0.0.1:587, public_ip so no STUN), plugins (a relay ACL for
//                127.0.0.1, tls, rcpt_to.in_host_list, dkim, a Maildir-like queue for
//                inbound), dkim/<domain>/{selector,private} from auth::generate_dkim_key
//                (the run seed), outbound.ini (TLS on, local_mx_ok, no retries) — and starts
//                `haraka -c dir` in the namespace
//   submit()     SMTP to 127.0.0.1:587 inside the namespace (relayed by the ACL); the id is
//                Haraka's transaction uuid from "250 Message Queued (…)"
//   run_queue()  follows Haraka's log to each message's outbound delivered / bounce /
//                temp_fail line (real time, bounded)
//   mailbox()    the messages the local queue plugin stored for the address
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mailsim/sut/sut.hpp"

namespace mailsim::sut {

std::unique_ptr<Sut> make_haraka_sut();

// Where Haraka is: $MAILSIM_HARAKA_DIR (the Haraka package folder, holding bin/haraka), else
// third_party/haraka/node_modules/Haraka found upward from the executable or the working
// directory. "" if none.
std::string find_haraka_dir();

// What one Haraka log says about outbound deliveries, per transaction uuid (the id submit()
// returns): one attempt per delivered / bounce / temp_fail line, in log order.
struct HarakaLog {
  std::map<std::string, std::vector<DeliveryAttempt>> attempts;
  bool final(const std::string& id) const;
  SubmissionStatus status(const std::string& id, std::int64_t now) const;
};
// Pure text → data, tested on Haraka's own lines (haraka_log_test.cpp).
HarakaLog parse_haraka_log(const std::string& text);

}  // namespace mailsim::sut
