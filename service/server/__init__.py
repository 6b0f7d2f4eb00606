"""The server room: the supervisor that holds the listening socket and the uvicorn protocol that
guards its connections. Below the HTTP handlers, which only read its counters."""
