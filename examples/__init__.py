"""Example user functions for `coresweep advise` and the config's `user_kernels` section."""
