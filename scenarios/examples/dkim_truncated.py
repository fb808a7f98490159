"""A DNS panel that cuts the DKIM key at 255 characters breaks DKIM; SPF alone then has to
carry DMARC.

Python twin of scenarios/catalog/dkim-truncated.yaml. The breakage acts when the setup under
test publishes its key (a publish-stage breakage), exactly as in YAML.
"""

import mailsim

from _common import main


def build() -> mailsim.Scenario:
    s = mailsim.Scenario("dkim-truncated-py", extends="guide-baseline", teaches=__doc__.split("\n")[0])
    s.break_("dkim.truncate", at=255)
    for persona in ("gmail", "yahoo", "outlook"):
        s.expect("outbound", persona, "inbox")
    s.expect("outbound", "mailtester", "< 10")
    s.expect("inbound", "all", "inbox")
    return s


if __name__ == "__main__":
    main(build)
