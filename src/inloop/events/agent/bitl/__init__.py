"""Module paths mirroring seed 002's, so its samples translate 1:1 (see inloop.runtime)."""
