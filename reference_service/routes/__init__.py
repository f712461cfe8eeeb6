"""HTTP routes (thin: parse, authorize, call an operation, shape the response)."""
