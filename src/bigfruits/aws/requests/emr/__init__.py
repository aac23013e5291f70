"""EMR requests: clusters (and their flavors), steps, EMR Studio."""
