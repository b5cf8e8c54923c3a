"""AcrRegistry: Alibaba Container Registry (ACR) for model and platform images — the ECR counterpart.

- `enterprise` (prod default): an ACR Enterprise Edition instance with the Trivy-based scanner, one
  private namespace, repositories with immutable tags, a scan-on-push rule, a tag-retention rule, and a
  VPC endpoint so nodes pull over the VPC. The instance is prepaid (Subscription only).
- `personal` (dev default): the free Personal Edition namespace and repositories (no tag immutability
  and no scanning exist there: use it for development only).

Repositories, the namespace and the instance are `protect`ed in prod (a rename or `pulumi destroy`
cannot drop images). Names are set explicitly: pulumi-alicloud auto-names TF-required `name` fields,
and these names are part of every image path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_alicloud as alicloud

Edition = Literal["enterprise", "personal"]


@dataclass(frozen=True, slots=True)
class AcrRegistryArgs:
    edition: Edition
    instance_name: str
    """Enterprise instance name (also the registry host name prefix)."""
    namespace: str
    repositories: tuple[str, ...]
    region: str
    vpc_id: pulumi.Input[str] | None = None
    vswitch_id: pulumi.Input[str] | None = None
    """Enterprise: where the VPC endpoint for image pulls lives (a node vSwitch)."""
    instance_type: str = "Standard"
    subscription_months: int = 1
    keep_release_images: int = 30
    """Enterprise: tags kept per repository by the retention rule."""
    protect: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


def registry_host(edition: Edition, instance_name: str, region: str) -> str:
    """The host nodes pull from, over the VPC (no internet egress through the NAT for image pulls)."""
    if edition == "enterprise":
        return f"{instance_name}-registry-vpc.{region}.cr.aliyuncs.com"
    return f"registry-vpc.{region}.aliyuncs.com"


class AcrRegistry(pulumi.ComponentResource):
    repository_urls: dict[str, pulumi.Output[str]]
    instance: alicloud.cr.RegistryEnterpriseInstance | None

    def __init__(self, name: str, args: AcrRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:alicloud:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect)
        host = registry_host(args.edition, args.instance_name, args.region)
        self.repository_urls = {}
        self.instance = None
        if args.edition == "enterprise":
            self._enterprise(name, args, child, keep, host)
        else:
            ns = alicloud.cr.Namespace(
                f"{name}-namespace", name=args.namespace, auto_create=False, default_visibility="PRIVATE", opts=keep
            )
            for repo in args.repositories:
                r = alicloud.cr.Repo(
                    f"{name}-{repo}",
                    namespace=ns.name,
                    name=repo,
                    repo_type="PRIVATE",
                    summary=f"{repo} images",
                    opts=keep,
                )
                self.repository_urls[repo] = pulumi.Output.concat(host, "/", r.namespace, "/", r.name)
        self.register_outputs({"repositoryUrls": self.repository_urls})

    def _enterprise(
        self, name: str, args: AcrRegistryArgs, child: pulumi.ResourceOptions, keep: pulumi.ResourceOptions, host: str
    ) -> None:
        instance = alicloud.cr.RegistryEnterpriseInstance(
            f"{name}-instance",
            instance_name=args.instance_name,
            instance_type=args.instance_type,
            payment_type="Subscription",  # the only payment type ACR EE offers
            period=args.subscription_months,
            renewal_status="AutoRenewal",  # an expired instance stops serving pulls
            renew_period=args.subscription_months,
            image_scanner="ACR",
            tags=dict(args.tags),
            opts=keep,
        )
        self.instance = instance
        ns = alicloud.cs.RegistryEnterpriseNamespace(
            f"{name}-namespace",
            instance_id=instance.id,
            name=args.namespace,
            auto_create=False,  # a typo in a push must fail, not create a public-by-accident repository
            default_visibility="PRIVATE",
            opts=keep,
        )
        for repo in args.repositories:
            r = alicloud.cs.RegistryEnterpriseRepo(
                f"{name}-{repo}",
                instance_id=instance.id,
                namespace=ns.name,
                name=repo,
                repo_type="PRIVATE",
                summary=f"{repo} images",
                detail="Managed by gpu-platform; tags are immutable, deploy by digest.",
                tag_immutability=True,
                opts=keep,
            )
            self.repository_urls[repo] = pulumi.Output.concat(host, "/", r.namespace, "/", r.name)
        alicloud.cr.ScanRule(
            f"{name}-scan-on-push",
            instance_id=instance.id,
            rule_name=f"{args.namespace}-scan-on-push",
            scan_scope="NAMESPACE",
            namespaces=[ns.name],
            repo_tag_filter_pattern=".*",
            trigger_type="AUTO",
            scan_type="VUL",
            opts=child,
        )
        alicloud.cr.ArtifactLifecycleRule(
            f"{name}-retention",
            instance_id=instance.id,
            namespace_name=ns.name,
            scope="NAMESPACE",
            auto=True,
            schedule_time="WEEK",
            tag_regexp=".*",
            retention_tag_count=args.keep_release_images,
            opts=child,
        )
        if args.vpc_id is not None and args.vswitch_id is not None:
            alicloud.cr.VpcEndpointLinkedVpc(
                f"{name}-vpc-endpoint",
                instance_id=instance.id,
                vpc_id=args.vpc_id,
                vswitch_id=args.vswitch_id,
                module_name="Registry",
                enable_create_dns_record_in_pvzt=True,
                opts=child,
            )
