"""`kubectl explain asgiservice.<any field>` answers: every property of the generated CRD has a description, and
the generator refuses to write (or pass) a CRD where one is missing, listing them all."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, create_model

from asgi_operator import generate
from asgi_operator.api import crd
from asgi_operator.api.base import Model, nested
from asgi_operator.api.models import AsgiServiceSpec

# Built with create_model: the fields are only ever read through the schema.
_Documented = create_model(
    "_Documented",
    __base__=Model,
    __doc__="A documented model: its docstring describes a field typed with it that has no description.",
    size=(int, Field(1, description="Documented.")),
)
_Bare = create_model("_Bare", __base__=Model, count=(int, 0))
_Sample = create_model(
    "_Sample",
    __base__=Model,
    __doc__="The root.",
    documented=(int, Field(0, description="Has one.")),
    blank=(str, Field("", description="  ")),
    bare=(int, 0),
    byDocstring=(_Documented | None, None),
    describedBare=(_Bare, nested(_Bare, "A field description covers a model without a docstring.")),
    bareObject=(_Bare | None, None),
    bareItems=(list[_Bare], Field(default_factory=list, description="The list itself is described.")),
    documentedItems=(list[_Documented], Field(default_factory=list, description="Items take the docstring.")),
    bareValues=(dict[str, _Bare], Field(default_factory=dict, description="The map itself is described.")),
    scalars=(dict[str, int], Field(default_factory=dict, description="Scalar values need no description.")),
)


def test_every_undocumented_property_is_listed_with_its_path() -> None:
    schema = crd.openapi_schema(_Sample, keep_defaults=True)
    assert crd.undocumented(schema, "spec") == [
        "spec.blank",
        "spec.bare",
        "spec.describedBare.count",
        "spec.bareObject",
        "spec.bareObject.count",
        "spec.bareItems[]",
        "spec.bareItems[].count",
        "spec.bareValues{}",
        "spec.bareValues{}.count",
    ]


def test_the_generated_crd_documents_every_property() -> None:
    missing = crd.undocumented_in_crd()
    assert not missing, "properties without a description:\n" + "\n".join(missing)


def test_kubectl_explain_paths_are_described() -> None:
    """The paths the integration test asks `kubectl explain` about, here without an API server."""
    root = crd.build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path in ("spec.probes.readiness.periodSeconds", "status.rollout.canaryWeight", "spec.env", "apiVersion"):
        node = root
        for name in path.split("."):
            node = node["properties"][name]
        assert node["description"].strip(), path


# the spec with one more field, documented by nobody
_Undocumented = create_model(
    "_Undocumented", __base__=AsgiServiceSpec, __doc__=AsgiServiceSpec.__doc__, surprise=(int, 0)
)


@pytest.mark.parametrize("command", ["write", "check"])
def test_generate_refuses_an_undocumented_field(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(crd, "AsgiServiceSpec", _Undocumented)
    assert generate.main([command, "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "1 properties of the CRD have no description" in err
    assert "  spec.surprise\n" in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_generate_checks_descriptions_before_anything_else(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With every field documented, `write` gets past the check and writes every generated file."""
    assert generate.main(["write", "--root", str(tmp_path)]) == 0
    assert (tmp_path / "crds" / "asgiservice.yaml").exists()
    assert "no description" not in capsys.readouterr().err
