"""AwsNetwork: VPC, public + private subnets per zone, internet gateway, NAT gateway(s), routes.

Everything is derived from the VPC CIDR and the zone list (components/network_plan.py), so the same
config always gives the same subnets. Nodes live in the private subnets; the public ones hold only
NAT gateways and internet-facing load balancers (tagged for the AWS load balancer discovery).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.network_plan import NatLayout, nat_zone_index, subnet_plan


def private_subnet_tags(cluster: str) -> dict[str, str]:
    """The tags the private subnets (and only they) carry: the cluster's, and internal load balancers'.
    Karpenter's EC2NodeClasses select the subnets by them (components/aws/karpenter.py)."""
    return {f"kubernetes.io/cluster/{cluster}": "shared", "kubernetes.io/role/internal-elb": "1"}


@dataclass(frozen=True, slots=True)
class AwsNetworkArgs:
    cluster_name: str
    """Used in Name tags and the `kubernetes.io/cluster/<name>` subnet tag."""
    vpc_cidr: str
    zones: tuple[str, ...]
    nat_gateways: NatLayout = "single"
    """`single`: one NAT in the first zone (cheaper, dev). `perZone`: a zone outage keeps egress (prod)."""
    tags: dict[str, str] = field(default_factory=dict)


class AwsNetwork(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        plan = subnet_plan(args.vpc_cidr, args.zones)

        def tags(role: str, **extra: str) -> dict[str, str]:
            return {**args.tags, "Name": f"{args.cluster_name}-{role}", **extra}

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_hostnames=True,  # EKS private endpoint and VPC endpoints need DNS hostnames
            enable_dns_support=True,
            tags=tags("vpc"),
            opts=child,
        )
        vpc_id = self.vpc.id
        # The VPC's default security group allows all traffic between its members; strip it so nothing
        # relies on it by accident (CIS AWS 5.4).
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc_id, ingress=[], egress=[], tags=tags("default-sg-locked"), opts=child
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc_id, tags=tags("igw"), opts=child)

        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc_id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags=tags("public-rt"),
            opts=child,
        )
        cluster_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        public: list[aws.ec2.Subnet] = []
        private: list[aws.ec2.Subnet] = []
        nats_by_zone: dict[int, aws.ec2.NatGateway] = {}
        for z in plan:
            pub = aws.ec2.Subnet(
                f"{name}-public-{z.zone}",
                vpc_id=vpc_id,
                cidr_block=z.public_cidr,
                availability_zone=z.zone,
                map_public_ip_on_launch=False,  # nothing in these subnets should get a public IP implicitly
                tags=tags(f"public-{z.zone}", **cluster_tag, **{"kubernetes.io/role/elb": "1"}),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{z.zone}", subnet_id=pub.id, route_table_id=public_rt.id, opts=child
            )
            public.append(pub)
            if nat_zone_index(z.index, args.nat_gateways) == z.index:
                eip = aws.ec2.Eip(f"{name}-nat-{z.zone}", domain="vpc", tags=tags(f"nat-{z.zone}"), opts=child)
                nats_by_zone[z.index] = aws.ec2.NatGateway(
                    f"{name}-nat-{z.zone}",
                    allocation_id=eip.allocation_id,
                    subnet_id=pub.id,
                    tags=tags(f"nat-{z.zone}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
        for z in plan:
            nat = nats_by_zone[nat_zone_index(z.index, args.nat_gateways)]
            priv = aws.ec2.Subnet(
                f"{name}-private-{z.zone}",
                vpc_id=vpc_id,
                cidr_block=z.private_cidr,
                availability_zone=z.zone,
                tags=tags(f"private-{z.zone}", **private_subnet_tags(args.cluster_name)),
                opts=child,
            )
            rt = aws.ec2.RouteTable(
                f"{name}-private-rt-{z.zone}",
                vpc_id=vpc_id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags=tags(f"private-rt-{z.zone}"),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{z.zone}", subnet_id=priv.id, route_table_id=rt.id, opts=child
            )
            private.append(priv)

        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])
        self.register_outputs(
            {
                "vpcId": vpc_id,
                "privateSubnetIds": self.private_subnet_ids,
                "publicSubnetIds": self.public_subnet_ids,
            }
        )
