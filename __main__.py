"""gpu-platform: load the typed stack spec, build the layers, export what later layers and users need.

    cluster layer (stacks/cluster/)  ->  platform layer (stacks/platform/)  ->  workload layer (stacks/workloads/)

Invalid config stops here with every problem listed (ConfigError is a pulumi.RunError: no traceback)
before any resource is registered. A models-only stack (`gpu-platform:clusterStack` set) builds neither
the cluster nor the platform: it reads the cluster stack's `clusterFacts` output through a
StackReference (stacks/cluster/reference.py) and deploys its model releases into that cluster.
"""

import pulumi

from stacks.cluster import layer as cluster_layer
from stacks.cluster import reference
from stacks.contract import PlatformFacts
from stacks.platform import layer as platform_layer
from stacks.spec.parse import parse_spec, raw_from_config
from stacks.workloads import layer as workload_layer

raw = raw_from_config()

platform: PlatformFacts | None = None  # models-only: the cluster stack installed the platform and its CRDs
if "clusterStack" in raw:
    spec, cluster = reference.load_layered(raw)
else:
    spec = parse_spec(raw)
    cluster = cluster_layer.build(spec)
    platform = platform_layer.build(spec, cluster)

workload_layer.build(spec, cluster, platform)  # model releases, after the platform's CRDs and mesh

pulumi.export("environment", spec.environment)
pulumi.export("clusterName", spec.cluster_name)
