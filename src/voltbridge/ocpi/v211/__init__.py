"""OCPI 2.1.1 objects for a partner that only speaks that version: versions, credentials, locations."""
