"""Names of the model artifact buckets (pure: no Pulumi, no SDK), shared by the S3 store that creates a
bucket (components/aws/artifact_store.py) and the spec rules that check the name and the versions'
`artifact.uri` against it before anything is registered.

A bucket is named `<cluster>-<model>-artifacts`: known at plan time, so a version's `artifact.uri` can
name it and be checked, and the same in every run (no random suffix the config cannot know). S3 bucket
names are global across all accounts: a name another account holds fails the create loudly
(BucketAlreadyExists); rename the cluster or the model then.
"""

from __future__ import annotations

import re

S3_BUCKET_MIN = 3
S3_BUCKET_MAX = 63
ARTIFACT_SUFFIX = "-artifacts"
# S3 general purpose bucket naming rules: 3-63 characters, lowercase letters, digits, '.', '-', beginning
# and ending with a letter or digit, plus reserved prefixes and suffixes (S3 user guide "Bucket naming
# rules"). Dots are excluded here: they break virtual-hosted TLS.
S3_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")


def artifact_bucket_name(cluster_name: str, model: str) -> str:
    """The S3 bucket of one model's artifacts in one cluster."""
    return f"{cluster_name}-{model}{ARTIFACT_SUFFIX}"


def artifact_uri_prefix(cluster_name: str, model: str) -> str:
    """What every `artifact.uri` of the model must start with when the stack creates its bucket."""
    return f"s3://{artifact_bucket_name(cluster_name, model)}/"


def bucket_name_problem(name: str) -> str | None:
    """Why S3 would refuse `name` as a bucket name, or None."""
    if not S3_BUCKET_MIN <= len(name) <= S3_BUCKET_MAX:
        return f"is {len(name)} characters long; S3 allows {S3_BUCKET_MIN} to {S3_BUCKET_MAX}"
    if not S3_BUCKET_RE.match(name):
        return "may use only lowercase letters, digits and '-', beginning and ending with a letter or digit"
    for prefix in S3_RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"begins with {prefix!r}, a prefix S3 reserves"
    for suffix in S3_RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"ends with {suffix!r}, a suffix S3 reserves"
    return None
