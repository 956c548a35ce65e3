"""Routes: species derived by rules match CHEMISTRY.md §2; route files are validated."""

from __future__ import annotations

import pytest

from specqc.chem.ions import target_ions
from specqc.chem.route import load_route, parse_route
from specqc.errors import ConfigError

# (route, formula, [M+H]+, [M+Na]+) from the species table of CHEMISTRY.md §2
TABLE = [
    ("diazepan-2-one", "C8H18N2O2", 175.1441, 197.1260),
    ("diazepan-2-one", "C4H7BrO2", 166.9702, 188.9522),
    ("diazepan-2-one", "C12H24N2O4", 261.1809, 283.1628),
    ("diazepan-2-one", "C16H30N2O6", 347.2177, 369.1996),
    ("diazepan-2-one", "C7H16N2O2", 161.1285, 183.1104),
    ("diazepan-2-one", "C5H12N2O2", 133.0972, 155.0791),
    ("diazepan-2-one", "C5H10N2O", 115.0866, 137.0685),
    ("diazepan-2-one", "C4H8N2O", 101.0709, 123.0529),
    ("diazepan-2-one", "C12H26N4O3", 275.2078, 297.1897),
    ("diazepan-2-one", "C10H20N4O2", 229.1659, 251.1478),
    ("diazepan-2-one", "C17H36N6O4", 389.2871, 411.2690),
    ("cyclobutylcarbonyl-diazepane", "C2H8N2", 61.0760, 83.0580),
    ("cyclobutylcarbonyl-diazepane", "C5H12N2", 101.1073, 123.0893),
    ("cyclobutylcarbonyl-diazepane", "C4H10N2", 87.0917, 109.0736),
    ("cyclobutylcarbonyl-diazepane", "C10H24N4", 201.2074, 223.1893),
    ("cyclobutylcarbonyl-diazepane", "C5H8O2", 101.0597, 123.0416),
    ("cyclobutylcarbonyl-diazepane", "C10H18N2O", 183.1492, 205.1311),
    ("cyclobutylcarbonyl-diazepane", "C15H24N2O2", 265.1911, 287.1730),
    ("cyclobutylcarbonyl-diazepane", "C9H16N2O", 169.1335, 191.1155),
]


@pytest.mark.parametrize("route_id, formula, mh, mna", TABLE)
def test_route_species_and_ions_match_the_table(route_id, formula, mh, mna):
    route = load_route(route_id)
    matches = [s for s in route.species if s.formula == formula]
    assert len(matches) == 1, formula
    ions = {i.ion: i.mz for i in target_ions(matches[0], "positive")}
    assert ions["[M+H]+"] == pytest.approx(mh, abs=1.5e-4)
    assert ions["[M+Na]+"] == pytest.approx(mna, abs=1.5e-4)


def test_side_products_are_derived_not_declared():
    route = load_route("diazepan-2-one")
    derived = {s.role for s in route.species if s.derived_by}
    assert derived == {"dialkylated", "oligomer", "hydrolysis", "piperazine"}
    oligomers = [s.id for s in route.species if s.role == "oligomer"]
    assert sorted(oligomers) == sorted(
        f"{shape}-{n}" for shape in ("linear", "cyclic") for n in ("dimer", "trimer", "tetramer")
    )


def test_boc_species_get_in_source_losses_and_polyamines_2plus():
    route = load_route("diazepan-2-one")
    protected = route.species_by_id("boc-aminopropyl-glycinate")
    ions = {i.ion: i for i in target_ions(protected, "positive")}
    assert ions["[M+H-C5H8O2]+"].mz == pytest.approx(161.1285, abs=1e-4)
    assert ions["[M+H-C4H8]+"].mz == pytest.approx(261.1809 - 56.0626, abs=1e-4)
    assert not ions["[M+H-C4H8]+"].anchor
    cyclam = load_route("cyclobutylcarbonyl-diazepane").species_by_id("cyclic-dimer")
    doubly = next(i for i in target_ions(cyclam, "positive") if i.ion == "[M+2H]2+")
    assert doubly.mz == pytest.approx(101.1073, abs=1e-4)


GUIDE_VARIANT = """
schema = "specqc.route/1"
id = "guide-ethylenediamine"
[[species]]
id = "boc-eda"
role = "starting-material"
smiles = "CC(C)(C)OC(=O)NCCN"
[[species]]
id = "bromoacetate"
role = "reagent"
smiles = "CCOC(=O)CBr"
[[species]]
id = "protected"
role = "protected-intermediate"
smiles = "CCOC(=O)CNCCNC(=O)OC(C)(C)C"
[[species]]
id = "precursor"
role = "linear-precursor"
smiles = "CCOC(=O)CNCCN"
[[species]]
id = "lactam"
role = "product"
smiles = "O=C1CNCCCN1"
[[reactions]]
stage = "cyclization"
type = "ring-closure"
substrate = "precursor"
product = "lactam"
[[stages]]
id = "cyclization"
main = ["lactam"]
impurities = ["precursor", "@oligomer"]
"""


def test_route_check_flags_the_guides_ethylenediamine_ring_size():
    route = parse_route(GUIDE_VARIANT, "user.toml")
    assert len(route.issues) == 1
    message = route.issues[0].message
    assert "6-membered" in message and "7-membered" in message and "C4H8N2O" in message
    assert not load_route("diazepan-2-one").issues
    assert not load_route("cyclobutylcarbonyl-diazepane").issues


@pytest.mark.parametrize(
    "broken, fragment",
    [
        (GUIDE_VARIANT.replace('role = "reagent"', 'role = "catalyst"'), "species[1].role"),
        (GUIDE_VARIANT.replace('smiles = "CCOC(=O)CNCCN"', 'smiles = "C1CC"'), "species[3].smiles"),
        (
            GUIDE_VARIANT.replace('impurities = ["precursor", "@oligomer"]', 'impurities = ["nothing"]'),
            "stages[0].impurities[0]",
        ),
        (GUIDE_VARIANT.replace('substrate = "precursor"', 'substrate = "ghost"'), "reactions[0].substrate"),
        (GUIDE_VARIANT.replace("[[stages]]", "[[stages]\n"), "not valid TOML"),
        (GUIDE_VARIANT.replace('role = "product"', 'role = "intermediate"'), "no species has role 'product'"),
    ],
)
def test_malformed_route_names_field(broken, fragment):
    with pytest.raises(ConfigError) as info:
        parse_route(broken, "user.toml")
    assert fragment in str(info.value) and "user.toml" in str(info.value)


def test_unknown_route_and_stage():
    with pytest.raises(ConfigError, match="unknown route"):
        load_route("no-such-route")
    with pytest.raises(ConfigError, match="no stage 'cyclisation'"):
        load_route("diazepan-2-one").stage("cyclisation")


def test_route_files_are_checked_against_the_shipped_json_schema():
    import tomllib
    from importlib import resources

    from specqc.chem.route import REACTION_TYPES, ROLES, check_route_schema, route_schema

    schema = route_schema()
    assert tuple(schema["properties"]["species"]["items"]["properties"]["role"]["enum"]) == ROLES
    assert tuple(schema["properties"]["reactions"]["items"]["properties"]["type"]["enum"]) == REACTION_TYPES
    for route_id in ("diazepan-2-one", "cyclobutylcarbonyl-diazepane"):
        text = resources.files("specqc").joinpath("data", "routes", f"{route_id}.toml").read_text("utf-8")
        check_route_schema(tomllib.loads(text))  # the built-in routes are valid route files


@pytest.mark.parametrize(
    "broken, fragment",
    [
        (GUIDE_VARIANT.replace("[[species]]", '[[species]]\ncolour = "blue"', 1), "species[0]: additional properties"),
        (GUIDE_VARIANT.replace('role = "reagent"', "role = 3"), "species[1].role"),
        (GUIDE_VARIANT.replace("main = [", "main = 7 #[", 1), "stages[0].main: 7 is not of type 'array'"),
        ("mystery = 1\n" + GUIDE_VARIANT, "route: additional properties are not allowed ('mystery'"),
    ],
)
def test_schema_errors_name_the_key_path(broken, fragment):
    with pytest.raises(ConfigError) as info:
        parse_route(broken, "user.toml")
    assert fragment.lower() in str(info.value).lower() and "user.toml" in str(info.value)
