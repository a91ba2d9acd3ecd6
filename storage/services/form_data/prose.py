"""Collectors for the prose forms (see the package note)."""

from __future__ import annotations

from storage.services.form_data import Collector

COLLECTORS: dict[str, Collector] = {}
