"""The real implementation: a sans-I/O protocol core and an asyncio shell around it."""
