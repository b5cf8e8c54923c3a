"""Cost: the price book (prices.yaml + aws_instances.yaml) and the estimate of a plan (docs/cost.md)."""
