//! The simulator: a deterministic discrete-time model to compare the policy with KEDA+HPA.
