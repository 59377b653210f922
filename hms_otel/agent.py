class OPSAgent:  # placeholder
    pass
