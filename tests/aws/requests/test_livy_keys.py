"""The ``livy-conf`` keys our flavors send are keys Apache Livy reads: each appears in the
``conf/livy.conf.template`` of the real Livy the notebook tests run (0.9.0-incubating; EMR 7
ships 0.8.0, whose keys these are too). EMR writes any key into livy.conf and Livy ignores one
it does not know, so a misspelt key would pass everything else silently."""
from __future__ import annotations

import re

from bigfruits.aws.requests.emr.flavors import FLAVORS
from tests.support.ci import skip_or_fail
from tests.support.cluster.livy_server import find_home


def test_every_livy_conf_key_we_send_is_one_livy_knows() -> None:
    home, why = find_home()
    if home is None:
        skip_or_fail(why)
    template = (home / "conf" / "livy.conf.template").read_text()
    known = set(re.findall(r"^#\s*(livy\.[\w.-]+)\s*=", template, flags=re.MULTILINE))
    sent = {key for flavor in FLAVORS.values() for conf in flavor.configurations
            if conf.get("Classification") == "livy-conf" for key in conf["Properties"]}
    assert sent and sent <= known, sorted(sent - known)
