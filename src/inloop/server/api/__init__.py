"""The HTTP API: thin routes that parse, call one service, and serialize."""
