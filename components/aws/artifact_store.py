"""ModelArtifactStore (AWS): a model's artifact bucket and the read-only identity its servers use.

ModelRelease (components/models/release.py) creates it through the cloud seam (components/cloud.py):
`artifact_store_factory(...)` below is the seam's ArtifactStoreFactory on AWS.

- S3 bucket `<cluster>-<model>-artifacts` (components/aws/artifact_names.py: a name known at plan time,
  so the versions' `artifact.uri` can name it and the spec checks they do): KMS-encrypted with its own key
  (rotation on), versioned (an overwritten artifact can be recovered, and the sha256 on the version stays
  checkable), all public access blocked, bucket-owner enforced ownership; bucket and key are `protect`ed
  (prod: model artifacts are not re-creatable). A dev store goes with `pulumi destroy`, objects included
  (`protect=False` also sets force_destroy; the key keeps its 30-day deletion window).
- IRSA role trusted only by the model's ServiceAccount through the cluster's OIDC provider, allowed to
  read objects and decrypt with the key, nothing else. Servers then pull weights without static keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.artifact_names import artifact_bucket_name, bucket_name_problem
from components.aws.irsa import IRSA_ANNOTATION, WorkloadRole, WorkloadRoleArgs
from components.cloud import ArtifactAccess, ArtifactStoreFactory


@dataclass(frozen=True)
class ModelArtifactStoreArgs:
    model: str
    bucket: str
    """Physical bucket name (`artifact_bucket_name(cluster, model)` through the seam)."""
    namespace: str
    service_account: str
    oidc_provider_arn: pulumi.Input[str] | None
    oidc_issuer_url: pulumi.Input[str] | None
    protect: bool = True
    """protect bucket and key (prod). False: `pulumi destroy` deletes them, the bucket with its objects."""


def read_policy(bucket_arn: str, key_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadArtifacts",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                    "Resource": f"{bucket_arn}/*",
                },
                {"Sid": "ListArtifacts", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
                {"Sid": "DecryptArtifacts", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn},
            ],
        },
        sort_keys=True,
    )


class ModelArtifactStore(pulumi.ComponentResource):
    role_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: ModelArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        problem = bucket_name_problem(args.bucket)
        if problem is not None:
            raise ValueError(f"ModelArtifactStore[{name}]: bucket name {args.bucket!r} {problem}")
        super().__init__("gpu-platform:models:ModelArtifactStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect)
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"model artifacts of {args.model}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=keep,
        )
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket,
            force_destroy=not args.protect,
            # A fixed name: a replacement must delete the old bucket first (blocked by protect in prod).
            opts=pulumi.ResourceOptions.merge(keep, pulumi.ResourceOptions(delete_before_replace=True)),
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=(
                        aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="aws:kms", kms_master_key_id=self.key.arn
                        )
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        self.role_arn = None
        if args.oidc_provider_arn is not None and args.oidc_issuer_url is not None:
            # The bucket's ARN from its name (the id): S3 ARNs carry no region or account.
            policy: pulumi.Output[Any] = pulumi.Output.all(self.bucket.id, self.key.arn).apply(
                lambda v: read_policy(f"arn:aws:s3:::{v[0]}", str(v[1]))
            )
            reader = WorkloadRole(
                f"{name}-reader",
                WorkloadRoleArgs(
                    namespace=args.namespace,
                    service_account=args.service_account,
                    mode="irsa",
                    oidc_provider_arn=args.oidc_provider_arn,
                    oidc_issuer_url=args.oidc_issuer_url,
                    inline_policy=policy,
                ),
                opts=child,
            )
            self.role_arn = reader.arn
        self.register_outputs({"bucket": self.bucket.id, "roleArn": self.role_arn})


def artifact_store_factory(
    cluster_name: str,
    oidc_provider_arn: pulumi.Input[str] | None,
    oidc_issuer_url: pulumi.Input[str] | None,
    protect: bool = True,
) -> ArtifactStoreFactory:
    """The seam's artifact store on AWS: S3 + KMS, read through IRSA when the cluster has an OIDC provider.
    Buckets are named after the cluster and the model (`artifact_bucket_name`)."""

    def create(
        name: str, *, model: str, namespace: str, service_account: str, opts: pulumi.ResourceOptions
    ) -> ArtifactAccess:
        store = ModelArtifactStore(
            name,
            ModelArtifactStoreArgs(
                model=model,
                bucket=artifact_bucket_name(cluster_name, model),
                namespace=namespace,
                service_account=service_account,
                oidc_provider_arn=oidc_provider_arn,
                oidc_issuer_url=oidc_issuer_url,
                protect=protect,
            ),
            opts=opts,
        )
        return ArtifactAccess({IRSA_ANNOTATION: store.role_arn} if store.role_arn is not None else {})

    return create
