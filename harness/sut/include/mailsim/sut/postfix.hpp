// `--sut postfix`: Debian's Postfix + OpenDKIM (milter) as the guide's mail server, run
// inside the SUT host's namespace of the netns fabric (issue 8). Everything of one run —
// main.cf/master.cf, queue, data, Maildirs, the DKIM key, TLS files, the mail log — lives in
// its own directory (`postfix -c <dir>`, multi-instance style), removed at stop().
//
//   start()      writes the TLS material; checks `postfix`/`opendkim` exist and ctx.netns
//   provision()  opendkim-genkey for the domain, KeyTable/SigningTable, starts opendkim
//                (inet:8891@127.0.0.1) and Postfix (`postfix -c dir start`) in the namespace
//   submit()     SMTP to 127.0.0.1:25 inside the namespace (mynetworks = the relay ACL);
//                the id is Postfix's queue id from "250 2.0.0 Ok: queued as …"
//   run_queue()  follows the mail log (maillog_file, postlogd) to each message's final
//                status=sent|bounced|deferred line — real time, bounded
//   mailbox()    the virtual(8) Maildir of the address
//
// A real Postfix keeps a deferred message in its queue for days (maximal_queue_lifetime),
// so the first deferral is reported as final (state deferred); see docs/real-mtas.md.
#pragma once

#include <memory>

#include "mailsim/sut/sut.hpp"

namespace mailsim::sut {

std::unique_ptr<Sut> make_postfix_sut();

// The configuration files the adapter writes, exposed for tests and docs.
struct PostfixConfig {
  std::string run_dir;        // "/tmp/mailsim-postfix-XXXX"
  std::string host_name;      // myhostname
  std::string domain;         // the virtual mailbox domain
  std::vector<std::string> mailboxes;
  bool ipv6 = false;          // inet_protocols = all
  bool tls = true;            // certificate present: offer and use STARTTLS
  std::uint32_t io_timeout_ms = 5000;
};
std::string postfix_main_cf(const PostfixConfig& config);
std::string postfix_master_cf();

}  // namespace mailsim::sut
