"""What ``help()`` shows: public modules declare ``__all__``, the adaptive and pk constructors
list their keys, and no docstring points to a document the package does not ship."""

import inspect
import pydoc
import re
from pathlib import Path
from types import ModuleType

import dtp_gillespie as dg
import pytest
from dtp_gillespie import schedule as schedule_module


@pytest.mark.parametrize("module", [dg.analysis, dg.plot, dg.presets], ids=lambda m: m.__name__)
def test_public_modules_declare_all_of_their_public_functions(module: ModuleType) -> None:
    declared = set(module.__all__)
    assert all(hasattr(module, name) for name in declared)
    defined = {
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    }
    assert defined <= declared, sorted(defined - declared)


@pytest.mark.parametrize("kind", ["adaptive", "pk"])
def test_help_of_the_constructor_lists_every_key_with_its_default(kind: str) -> None:
    text = pydoc.render_doc(getattr(dg.Schedule, kind), renderer=pydoc.plaintext)
    keys = [k for k in schedule_module._KEYS[kind] if k != "kind"]
    missing = [k for k in keys if f"``{k}``" not in text]
    assert not missing, f"help(dg.Schedule.{kind}) does not list {missing}"
    assert text.count("default") >= len(keys) - 2  # every optional key says its default


def test_no_docstring_cites_a_document_that_is_not_shipped() -> None:
    package = Path(dg.__file__).parent
    cited = {
        f"{path.name}: {m.group(0)}"
        for path in package.glob("*.py")
        for m in re.finditer(r"DESIGN\.md[^\n]*", path.read_text(encoding="utf-8"))
    }
    assert not cited
