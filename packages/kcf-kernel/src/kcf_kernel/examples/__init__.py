"""Example kernels built only on kcf-spec and kcf-kernel."""
