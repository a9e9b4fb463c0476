"""The browser studio (Dash + dash-cytoscape): a client of the engine's public API only."""
