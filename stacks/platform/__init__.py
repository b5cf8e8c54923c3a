"""Platform layer (cloud-neutral): add-ons, the GPU stack and the capacity plan on any cluster that
hands over ClusterFacts (stacks/contract.py)."""
