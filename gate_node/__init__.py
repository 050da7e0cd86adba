"""gate_node: the service on a lane's Raspberry Pi: read, decide offline, open, record, report."""
