"""Real time: the bus that says what changed, and the browser sockets that render it for each page.

Below the views and above the data: imports data/ and Flask, never views/ (docs/ARCHITECTURE.md).
"""
