"""Independent reference models of the SPEC, used to check the real engine."""
