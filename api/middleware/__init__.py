"""Pure ASGI middleware: request context (outermost) and authentication."""
