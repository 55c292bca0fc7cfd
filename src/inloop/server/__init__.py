"""The Inloop server: the API, the services that own all state, and the store.

Installed with the ``server`` extra; the SDK never imports it.
"""
