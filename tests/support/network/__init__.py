"""What stands in for the network between us and S3: a real Toxiproxy on 127.0.0.1 in front of
the moto server, adding the faults S3 has (latency, resets, stalls, slow closes).

- ``toxiproxy``: the Toxiproxy server and its fixtures (not the PyPI ``toxiproxy`` client)
"""
