"""The contract registry: the single source of truth for every event type.

Authored files: ``registry.yaml``, ``schemas/<subject>/v<N>.avsc``, ``common/``, ``envelope/``.
Generated from them (never edited by hand): ``generated/``.
"""
