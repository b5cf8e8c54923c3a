"""Entry point the Pulumi CLI runs for `pulumi preview --policy-pack policy`.

Constructing PolicyPack starts the analyzer's gRPC server and blocks, so nothing else imports this file;
the policies themselves live in gpu_policies.py, where tests can reach them.
"""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

# The CLI may start the pack with another working directory; gpu_policies sits beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_policies import ALL, PACK_NAME  # noqa: E402

PolicyPack(name=PACK_NAME, policies=ALL, enforcement_level=EnforcementLevel.MANDATORY)
