"""Procedures several commands share, one per module (launching a cluster, watching a step,
the cluster's network and roles, SSH access, files in the bucket, ...). A procedure calls
other procedures, ``requests/`` and ``core/``, never a command: ``commands/`` sits above."""
