"""The process's lifecycle beyond start-up: the drain between SIGTERM and exit (contract section 13)."""
