"""Cases and case bundles for exchange between FIUs."""
