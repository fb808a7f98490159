"""Without a PTR record for the server's IP, Gmail refuses the mail (550-5.7.25) and others
junk or defer it (guide §3; providers.md).

Python twin of scenarios/catalog/rdns-missing.yaml.
"""

import mailsim

from _common import main


def build() -> mailsim.Scenario:
    s = mailsim.Scenario("rdns-missing-py", extends="guide-baseline", teaches=__doc__.split("\n")[0])
    s.break_("ptr.remove", address="server")
    s.expect("outbound", "gmail", "rejected 5.7.25")
    s.expect("outbound", "outlook", "spam")
    s.expect("outbound", "yahoo", "deferred")
    s.expect("outbound", "mailtester", "<= 9")
    s.expect("inbound", "all", "inbox")
    return s


if __name__ == "__main__":
    main(build)
