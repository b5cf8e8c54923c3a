"""gpu-platform: load the typed stack spec, build the layers, export what later layers and users need.

Invalid config stops here with every problem listed (ConfigError is a pulumi.RunError: no traceback)
before any resource is registered.
"""

import pulumi

from stacks import alicloud as alicloud_stack
from stacks import aws as aws_stack
from stacks import models, platform
from stacks.spec import load_spec

spec = load_spec()

if spec.cloud == "aws":
    cluster = aws_stack.build(spec)
else:
    cluster = alicloud_stack.build(spec)

platform.build(spec, cluster)
models.build(spec, cluster)  # workload layer: model releases, after the platform's CRDs and mesh

pulumi.export("environment", spec.environment)
pulumi.export("clusterName", spec.cluster_name)
