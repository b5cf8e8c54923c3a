"""InterruptionQueue: the SQS queue and EventBridge rules through which Karpenter learns that EC2 is about to
take a node away, so it cordons and drains the node (PDBs honoured) and launches its replacement first.

The events are the five Karpenter's interruption controller parses (aws/karpenter-provider-aws v1.15.2
pkg/controllers/interruption/messages/*/parser.go: source and detail-type of each), docs/karpenter.md#interruption:
spot interruption warnings (2 minutes' notice), rebalance recommendations, scheduled maintenance (AWS Health),
instance state changes, and capacity reservation interruption warnings (an ODCR/Capacity Block ending).

The queue is encrypted (SQS-managed SSE), keeps messages 5 minutes (an older warning is useless), and its
policy lets only EventBridge and SQS itself send, over TLS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

# rule name suffix -> (event source, detail-type). Rules are named <queue>-<suffix>: EventBridge rule names
# are at most 64 characters, and an auto-name of the logical name would pass that with a long cluster name.
INTERRUPTION_EVENTS: Mapping[str, tuple[str, str]] = {
    "spot": ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    "rebalance": ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    "health": ("aws.health", "AWS Health Event"),
    "state-change": ("aws.ec2", "EC2 Instance State-change Notification"),
    "reservation": ("aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning"),
}
MESSAGE_RETENTION_SECONDS = 300


@dataclass(frozen=True, slots=True)
class InterruptionQueueArgs:
    queue_name: str
    """The queue's name: Karpenter's `settings.interruptionQueue` names it."""
    tags: Mapping[str, str] = field(default_factory=dict)


def queue_policy(queue_arn: str) -> str:
    """Only EventBridge and SQS may send; nothing reaches the queue without TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "EventBridgeAndSqsSend",
                    "Effect": "Allow",
                    "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                },
                {
                    "Sid": "DenyHTTP",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sqs:*",
                    "Resource": queue_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        },
        sort_keys=True,
    )


class InterruptionQueue(pulumi.ComponentResource):
    queue: aws.sqs.Queue
    rules: dict[str, aws.cloudwatch.EventRule]

    def __init__(self, name: str, args: InterruptionQueueArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:aws:InterruptionQueue", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            name=args.queue_name,
            message_retention_seconds=MESSAGE_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-queue-policy", queue_url=self.queue.url, policy=self.queue.arn.apply(queue_policy), opts=child
        )
        self.rules = {}
        for key, (source, detail_type) in INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{key}",
                name=f"{args.queue_name}-{key}",
                description=f"{detail_type} -> Karpenter interruption queue",
                event_pattern=json.dumps({"source": [source], "detail-type": [detail_type]}, sort_keys=True),
                tags=tags,
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{key}", rule=rule.name, arn=self.queue.arn, target_id="KarpenterInterruptionQueue", opts=child
            )
            self.rules[key] = rule
        self.register_outputs({"queueName": self.queue.name, "queueArn": self.queue.arn})
