"""Declarative workflows: definitions, validation, CEL conditions, templates, drawings."""
