"""Seed 002's module paths with ``swiss_ai_hub`` renamed to ``inloop``: see ``events``."""
