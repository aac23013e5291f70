"""What the tests stand on, importable as ``tests.support.<module>``: the paths and datasets,
the moto server, the state-advancing fake EMR, the stubbed AWS clients."""
