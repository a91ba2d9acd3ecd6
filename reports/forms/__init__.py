"""The official forms (SPEC §7), each a small declarative ``reports.builder.Form``."""
