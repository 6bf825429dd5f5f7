"""The IAM policy check: every AWS call each function, state machine and rule makes must be allowed by its role."""
