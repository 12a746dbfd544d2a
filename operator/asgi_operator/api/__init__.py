"""The AsgiService contract: pydantic models (the single source of truth) and what is generated from them."""
