"""Proxied records resolve to Cloudflare, which carries no SMTP, and break the server's
forward-confirmed rDNS (guide §2: the cloud icon must be grey, "DNS only").

Python twin of scenarios/catalog/cloudflare-proxy-on.yaml.
"""

import mailsim

from _common import main


def build() -> mailsim.Scenario:
    s = mailsim.Scenario("cloudflare-proxy-on-py", extends="guide-baseline", teaches=__doc__.split("\n")[0])
    s.break_("proxy.on", name="mx")
    s.expect("outbound", "gmail", "rejected 5.7.25")
    s.expect("outbound", "outlook", "spam")
    s.expect("outbound", "yahoo", "deferred")
    s.expect("outbound", "mailtester", "<= 6")
    s.expect("inbound", "all", "unreachable")
    return s


if __name__ == "__main__":
    main(build)
