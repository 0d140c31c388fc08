"""Domain models and vocabularies; imports nothing but the stdlib and pydantic."""
