"""An existing Kubernetes cluster that the stack does not create (docs/existing-cluster.md): its cloud seam,
the Kubernetes provider that reaches it, and the node shapes its pools declare."""
