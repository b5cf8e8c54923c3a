"""Workload layer (cloud-neutral): the stack's model releases, their args and their capacity check."""
