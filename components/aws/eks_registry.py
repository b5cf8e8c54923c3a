"""Which account serves the EKS add-on image registry in a region (docs/karpenter.md#efa-device-plugin).

Pure Python, one source for the spec rule that refuses an EFA pool where the account is not recorded
(stacks/spec/pools.py efa_registry) and for the EFA device plugin's image (components/aws/efa_device_plugin.py).

EKS add-on images are served by account 602401143452's registry in each region; ap-east-1, me-south-1 and
the China regions use other accounts (../shared/reference/aws-eks.md, ECR endpoint policies), whose ids are
not sourced here, so those regions are refused rather than guessed.
"""

from __future__ import annotations

EKS_ADDON_REGISTRY_ACCOUNT = "602401143452"
REGIONS_WITH_OTHER_REGISTRY_ACCOUNTS = ("ap-east-1", "me-south-1", "cn-")
"""Region names, or prefixes (`cn-`: every China region), whose add-on registry account is not recorded."""


def addon_registry_account(region: str) -> str | None:
    """The account of `region`'s EKS add-on registry, None where it is not recorded."""
    return None if region.startswith(REGIONS_WITH_OTHER_REGISTRY_ACCOUNTS) else EKS_ADDON_REGISTRY_ACCOUNT
