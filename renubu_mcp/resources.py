"""Resource placeholder (being written)."""
def register(server, toolsets): pass
