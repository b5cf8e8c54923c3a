"""Resource types that hold data or identity: deleting one loses something a re-create cannot bring back.

The plan diff (tools/offline/diff.py) flags their deletion, the policy pack (policy/gpu_policies.py) and
tests require them to be protected in prod. Data only: type tokens as strings, no Pulumi or cloud SDK
imports, so the policy pack can import it without the offline runner.
"""

from __future__ import annotations

STATEFUL_TYPES: frozenset[str] = frozenset(
    {
        "aws:eks/cluster:Cluster",
        "aws:ecr/repository:Repository",
        "aws:kms/key:Key",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:s3/bucketV2:BucketV2",
        "aws:s3/bucket:Bucket",
        "alicloud:cs/managedKubernetes:ManagedKubernetes",
        "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance",
        "alicloud:cr/namespace:Namespace",
        "alicloud:cr/repo:Repo",
        # ACR EE namespaces and repositories live in the `cs` module of pulumi_alicloud.
        "alicloud:cs/registryEnterpriseNamespace:RegistryEnterpriseNamespace",
        "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo",
        "alicloud:kms/key:Key",
        "alicloud:oss/bucket:Bucket",
        "alicloud:log/project:Project",
        "kubernetes:core/v1:PersistentVolumeClaim",
        "kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch",
    }
)


def is_stateful(resource_type: str) -> bool:
    return resource_type in STATEFUL_TYPES
