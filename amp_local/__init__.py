"""A local, Amp-compatible server: DataFusion with Amp UDFs, synthetic EVM chains, Flight with Amp's surface."""
