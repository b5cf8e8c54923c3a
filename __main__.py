"""gpu-platform: load the typed stack spec, build the layers, export what later layers and users need.

Invalid config stops here with every problem listed (ConfigError is a pulumi.RunError: no traceback)
before any resource is registered.

A models-only stack (`gpu-platform:clusterStack` set) builds neither the cluster nor the platform: it
reads the cluster stack's `clusterFacts` output through a StackReference (stacks/cluster_ref.py) and
deploys its model releases into that cluster.
"""

import pulumi

from stacks import alicloud as alicloud_stack
from stacks import aws as aws_stack
from stacks import cluster_ref, models, platform
from stacks.spec import parse_spec, raw_from_config

raw = raw_from_config()

platform_facts = None  # a models-only stack: the cluster stack installed the platform and its CRDs
if "clusterStack" in raw:
    spec, cluster = cluster_ref.load_layered(raw)
else:
    spec = parse_spec(raw)
    if spec.cloud == "aws":
        cluster = aws_stack.build(spec)
    else:
        cluster = alicloud_stack.build(spec)
    platform_facts = platform.build(spec, cluster)

models.build(spec, cluster, platform_facts)  # workload layer: model releases, after the platform's CRDs and mesh

pulumi.export("environment", spec.environment)
pulumi.export("clusterName", spec.cluster_name)
