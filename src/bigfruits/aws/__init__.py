"""``bigfruits aws``: the pipeline on AWS EMR.

Read it top-down, one layer per folder: ``cli`` (the commands' options) -> ``commands/`` (what
each command decides) -> ``requests/`` (the exact AWS requests, one module per service) ->
``core/`` (settings, state, the one sender). ``node/`` holds what runs on a cluster node.
"""
