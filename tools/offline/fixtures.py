"""Answers to invokes in the offline runner. Invokes are only used for values, never to shape the
resource graph (docs/design.md#graph-shape), so fixed, obviously-fake answers are safe here."""

from __future__ import annotations

from typing import Any

ACCOUNT_ID = "123456789012"

INVOKES: dict[str, dict[str, Any]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": {
        "accountId": ACCOUNT_ID,
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/offline",
        "userId": "OFFLINE",
        "id": ACCOUNT_ID,
    },
    "aws:index/getPartition:getPartition": {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"},
    # Only reached when the cluster id is known; in a preview of a new cluster the credential stays unknown.
    "alicloud:cs/getClusterCredential:getClusterCredential": {
        "id": "c-offline",
        "clusterId": "c-offline",
        "clusterName": "offline",
        "kubeConfig": "<offline kubeconfig>",
        "temporaryDurationMinutes": 1440,
        "certificateAuthority": {},
        "expiration": "",
    },
}


def answer(token: str, args: dict[str, Any]) -> dict[str, Any]:
    if token == "aws:index/getRegion:getRegion":
        region = args.get("region") or args.get("name") or "us-east-1"
        return {"name": region, "region": region, "id": region}
    if token in INVOKES:
        return INVOKES[token]
    raise KeyError(f"the offline runner has no fixture for invoke {token!r}; add one to tools/offline/fixtures.py")
