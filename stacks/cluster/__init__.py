"""Cluster layer: one module per cloud builds the cluster and hands the platform ClusterFacts
(stacks/contract.py); reference.py reads them from another stack for models-only stacks."""
