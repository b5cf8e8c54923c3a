"""AckAutoscaling: ACK's managed cluster autoscaler (cs.AutoscalingConfig) and, optionally, the RAM
service roles it and the managed node pools act as.

On EKS we install cluster-autoscaler ourselves (components/aws/cluster_autoscaler.py); on ACK the autoscaler
is part of the managed control plane and scales the node pools that have `scaling_config.enable`
(components/alicloud/node_pool.py). This component only sets its behaviour:

- GPU-aware scale-in: a GPU node is a candidate when its pods request less than
  `addons.clusterAutoscaler.scaleDownGpuUtilizationThreshold` of its GPUs (CPU/memory thresholds apply
  to the other nodes), after `scaleDownUnneededTime`;
- scale-up from zero on (GPU pools idle at 0 nodes);
- expander `least-waste`: ACK prices are unknown to the catalog (no priority-by-price as on AWS), so
  pick the pool that leaves the fewest idle resources.

Account prerequisite: ACK acts as the RAM role `AliyunCSManagedAutoScalerRole` (policy
AliyunCSManagedAutoScalerRolePolicy) to scale, and managed node pools (auto repair, CVE fixes) as
`AliyunCSManagedNlcRole` (AliyunCSManagedNlcRolePolicy). They exist once per account, created by the
console's one-click authorisation; `cluster.alicloud.createServiceRoles: true` creates them here instead
(only in one stack per account). Destroying cs.AutoscalingConfig does NOT disable autoscaling (its delete
is a no-op): disable scaling on the node pools instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud

# Role -> system policy, per the ACK service-role list (alibabacloud-automation/terraform-alicloud-
# ack-services and ACK's "ACK service roles" page).
SERVICE_ROLES = {
    "AliyunCSManagedAutoScalerRole": "AliyunCSManagedAutoScalerRolePolicy",
    "AliyunCSManagedNlcRole": "AliyunCSManagedNlcRolePolicy",
}
# Only the ACK service may assume them.
SERVICE_TRUST = json.dumps(
    {
        "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": ["cs.aliyuncs.com"]}}],
        "Version": "1",
    },
    sort_keys=True,
)


@dataclass(frozen=True, slots=True)
class AckAutoscalingArgs:
    cluster_id: pulumi.Input[str]
    scale_down_unneeded_time: str = "10m"
    """How long a node must be unneeded before removal (spec addons.clusterAutoscaler)."""
    gpu_utilization_threshold: float = 0.5
    """Scale-in threshold of GPU nodes (share of GPUs requested)."""
    utilization_threshold: float = 0.5
    """Scale-in threshold of CPU nodes (share of CPU/memory requested)."""
    create_service_roles: bool = False
    after: tuple[pulumi.Resource, ...] = ()
    """Resources the config waits for (the node pools: it scales their scaling groups). A component's
    own depends_on does not reach its children, so it is passed down here."""


def threshold(value: float) -> str:
    """ACK takes thresholds as strings ('0.5'); the shortest exact form keeps plans stable."""
    return repr(round(value, 4))


class AckAutoscaling(pulumi.ComponentResource):
    config: alicloud.cs.AutoscalingConfig
    roles: list[alicloud.ram.Role]

    def __init__(self, name: str, args: AckAutoscalingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:alicloud:Autoscaling", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.roles = []
        attachments: list[pulumi.Resource] = []
        if args.create_service_roles:
            for role_name, policy in SERVICE_ROLES.items():
                role = alicloud.ram.Role(
                    f"{name}-{role_name}",
                    role_name=role_name,
                    assume_role_policy_document=SERVICE_TRUST,
                    description=f"ACK assumes this role ({policy})",
                    opts=child,
                )
                attachments.append(
                    alicloud.ram.RolePolicyAttachment(
                        f"{name}-{role_name}",
                        role_name=role.role_name,
                        policy_name=policy,
                        policy_type="System",
                        opts=child,
                    )
                )
                self.roles.append(role)

        self.config = alicloud.cs.AutoscalingConfig(
            f"{name}-autoscaling",
            cluster_id=args.cluster_id,
            scaler_type="cluster-autoscaler",
            expander="least-waste",
            scale_up_from_zero=True,
            scale_down_enabled=True,
            scan_interval="30s",
            unneeded_duration=args.scale_down_unneeded_time,
            cool_down_duration=args.scale_down_unneeded_time,
            gpu_utilization_threshold=threshold(args.gpu_utilization_threshold),
            utilization_threshold=threshold(args.utilization_threshold),
            # Model servers keep weights in emptyDir caches: that must not pin a node forever.
            skip_nodes_with_local_storage=False,
            skip_nodes_with_system_pods=True,
            daemonset_eviction_for_nodes=False,
            # Long model loads and in-flight inferences drain; 1 h caps a stuck drain (default 4 h).
            max_graceful_termination_sec=3600,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*attachments, *args.after]),
        )
        self.register_outputs({"scalerType": self.config.scaler_type})
