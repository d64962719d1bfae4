"""productions/lib (the media core) reads no environment variable and imports no Django: tower/settings.py reads
the configuration once and productions/media_config.py hands it over as plain values."""

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parent.parent / "productions" / "lib"


def offences(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        where = f"{path.relative_to(LIB.parent.parent)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "environb", "getenv", "getenvb"}:
            found.append(f"{where} os.{node.attr}")
        elif isinstance(node, ast.Name) and node.id in {"environ", "getenv"}:
            found.append(f"{where} {node.id}")
        elif isinstance(node, ast.ImportFrom) and node.module in {"os", "posix"} and any(
                alias.name in {"environ", "environb", "getenv", "getenvb"} for alias in node.names):
            found.append(f"{where} from os import ...")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{where} imports {m}" for m in modules if m == "django" or m.startswith("django.")]
    return found


def test_the_media_core_reads_no_environment_and_imports_no_django():
    files = sorted(LIB.rglob("*.py"))
    assert len(files) > 20
    problems = [problem for path in files for problem in offences(path)]
    assert problems == [], "\n".join(problems)
