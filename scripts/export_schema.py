"""Regenerate data/facts.schema.json from the models: python scripts/export_schema.py"""

from pathlib import Path

from hanoi_cli.models import json_schema_text

target = Path(__file__).resolve().parent.parent / "data" / "facts.schema.json"
target.write_text(json_schema_text(), encoding="utf-8")
print(f"wrote {target}")
