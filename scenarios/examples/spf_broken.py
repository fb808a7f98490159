"""An SPF record that no longer lists the server fails SPF, but an aligned DKIM signature
still carries DMARC (RFC 7489 §4.2: either aligned pass suffices).

Python twin of scenarios/catalog/spf-broken.yaml.
"""

import mailsim

from _common import main


def build() -> mailsim.Scenario:
    s = mailsim.Scenario("spf-broken-py", extends="guide-baseline", teaches=__doc__.split("\n")[0])
    s.break_("spf.set", value="v=spf1 ip4:198.51.100.7 -all")
    s.expect("outbound", "gmail", "inbox")
    s.expect("outbound", "yahoo", "inbox")
    s.expect("outbound", "mailtester", "<= 9")
    s.expect("inbound", "all", "inbox")
    return s


if __name__ == "__main__":
    main(build)
