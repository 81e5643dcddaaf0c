"""The execution paths behind the router; each implements `ChatPath`."""
