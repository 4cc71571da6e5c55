"""OCPI 2.2.1 objects, one module per OCPI module (our own pydantic models, checked strictly)."""
