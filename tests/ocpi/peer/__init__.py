"""Independent OCPI peers for the tests, each run in its own virtual environment."""
