"""Routes: species, reactions and stages, loaded from TOML route files.

A route file is data (built-in ones live in ``specqc/data/routes``); a user
passes their own with ``--route PATH``. Errors name the file and the field.
Side products are derived from the reactions (see :mod:`specqc.chem.derive`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..errors import ConfigError, ReferenceDataError, SpecqcError
from . import derive
from .species import Species, make_species

ROUTE_SCHEMA = "specqc.route/1"
ROLES = (
    "product",
    "starting-material",
    "reagent",
    "intermediate",
    "protected-intermediate",
    "linear-precursor",
    "dialkylated",
    "piperazine",
    "oligomer",
    "hydrolysis",
)
REACTION_TYPES = ("n-alkylation", "n-acylation", "boc-removal", "ring-closure", "salt-formation")


@dataclass(frozen=True)
class Reaction:
    stage: str
    type: str
    substrate: str
    product: str
    reagent: str = ""
    counterion: str = ""


@dataclass(frozen=True)
class Stage:
    id: str
    main: tuple[str, ...]
    impurities: tuple[str, ...]
    not_applicable: tuple[str, ...]

    def role_of(self, species_id: str) -> str:
        if species_id in self.main:
            return "main"
        if species_id in self.impurities:
            return "impurity"
        return "not-applicable"


@dataclass(frozen=True)
class RouteIssue:
    level: str  # "warning" | "error"
    stage: str
    message: str


@dataclass(frozen=True)
class Route:
    id: str
    version: str
    name: str
    source: str  # file path, or "built-in"
    guide: str
    species: tuple[Species, ...]
    reactions: tuple[Reaction, ...]
    stages: tuple[Stage, ...]
    issues: tuple[RouteIssue, ...] = field(default=())

    def species_by_id(self, species_id: str) -> Species:
        for item in self.species:
            if item.id == species_id:
                return item
        raise KeyError(species_id)

    def stage(self, stage_id: str) -> Stage:
        for item in self.stages:
            if item.id == stage_id:
                return item
        raise ConfigError(
            f"route {self.id!r} has no stage {stage_id!r}; stages: " + ", ".join(s.id for s in self.stages)
        )


def builtin_route_ids() -> list[str]:
    folder = resources.files("specqc").joinpath("data", "routes")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_route(reference: str | Path) -> Route:
    """A built-in route id, or the path of a route file."""
    text_ref = str(reference)
    candidate = Path(text_ref)
    if candidate.suffix.lower() == ".toml" or candidate.exists() or "/" in text_ref or "\\" in text_ref:
        if not candidate.is_file():
            raise ConfigError("route file not found", candidate)
        try:
            text = candidate.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read route file ({exc})", candidate) from exc
        return parse_route(text, str(candidate))
    if text_ref not in builtin_route_ids():
        raise ConfigError(
            f"unknown route {text_ref!r}: give a built-in id ({', '.join(builtin_route_ids())}) "
            "or the path of a route file"
        )
    return _builtin_route(text_ref)


@lru_cache(maxsize=8)
def _builtin_route(route_id: str) -> Route:
    text = resources.files("specqc").joinpath("data", "routes", f"{route_id}.toml").read_text("utf-8")
    try:
        return parse_route(text, "built-in")
    except SpecqcError as exc:  # our own data is broken: not the user's fault
        raise ReferenceDataError(f"built-in route {route_id}: {exc.one_line()}") from exc


@lru_cache(maxsize=1)
def route_schema() -> dict:
    """The JSON Schema of a route file (package data ``data/route.schema.json``)."""
    import json

    try:
        return json.loads(resources.files("specqc").joinpath("data", "route.schema.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ReferenceDataError(f"package data file data/route.schema.json is missing or malformed ({exc})") from exc


def _key_path(parts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "route"


def check_route_schema(document: dict) -> None:
    """The structure of a route document against its JSON Schema; the first problem,
    named by its key path (``stages[0].main``), as a ConfigError."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(route_schema())
    problem = min(
        validator.iter_errors(document), key=lambda e: (list(map(str, e.absolute_path)), e.message), default=None
    )
    if problem is not None:
        raise ConfigError(f"{_key_path(problem.absolute_path)}: {problem.message}")


def parse_route(text: str, source: str) -> Route:
    path = None if source == "built-in" else source
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"route file is not valid TOML: {exc}", path) from exc
    try:
        if path is not None:  # the built-in routes are checked against the schema by the test suite
            check_route_schema(document)
        return _build_route(document, source)
    except ConfigError as exc:
        if path and not exc.path:
            raise ConfigError(exc.message, path) from exc
        raise


def _build_route(document: dict, source: str) -> Route:
    """A route from a document of the schema's shape (route.schema.json): what the
    schema cannot say, ids that refer to one another, is checked here."""
    route_id = document["id"]
    declared: list[Species] = []
    seen_ids: set[str] = set()
    for index, entry in enumerate(document["species"]):
        where = f"species[{index}]"
        species_id = entry["id"]
        if species_id in seen_ids:
            raise ConfigError(f"{where}.id: duplicate species id {species_id!r}")
        declared.append(
            make_species(species_id, entry.get("name", species_id), entry["role"], entry["smiles"], f"{where}.smiles")
        )
        seen_ids.add(species_id)
    if not any(s.role == "product" for s in declared):
        raise ConfigError("species: no species has role 'product'")

    reactions = []
    for index, entry in enumerate(document.get("reactions", [])):
        where = f"reactions[{index}]"
        reaction = Reaction(
            stage=entry["stage"],
            type=entry["type"],
            substrate=entry.get("substrate", ""),
            product=entry["product"],
            reagent=entry.get("reagent", ""),
            counterion=entry.get("counterion", ""),
        )
        for key in ("substrate", "product", "reagent"):
            value = getattr(reaction, key)
            if value and value not in seen_ids:
                raise ConfigError(f"{where}.{key}: unknown species {value!r}")
        if reaction.type in ("n-alkylation", "n-acylation") and not reaction.reagent:
            raise ConfigError(f"{where}.reagent: an {reaction.type} needs its reagent")
        if reaction.type == "ring-closure" and not reaction.substrate:
            raise ConfigError(f"{where}.substrate: a ring-closure needs its linear precursor")
        reactions.append(reaction)

    names = document.get("derived_names", {})
    derived, issues = derive_species(declared, reactions, names)
    species = tuple(declared + derived)
    all_ids = {s.id for s in species}
    for key in names:
        if key not in all_ids:
            raise ConfigError(f"derived_names.{key}: no derived species has this id")

    stages = []
    stage_ids: set[str] = set()
    for index, entry in enumerate(document["stages"]):
        where = f"stages[{index}]"
        stage_id = entry["id"]
        if stage_id in stage_ids:
            raise ConfigError(f"{where}.id: duplicate stage id {stage_id!r}")
        stage_ids.add(stage_id)
        main = _expand(entry["main"], species, f"{where}.main")
        if not main:
            raise ConfigError(f"{where}.main: names no species (a role none of the species has?)")
        impurities = _expand(entry.get("impurities", []), species, f"{where}.impurities")
        overlap = set(main) & set(impurities)
        if overlap:
            raise ConfigError(f"{where}: {sorted(overlap)} listed as both main and impurity")
        explicit_na = _expand(entry.get("not_applicable", []), species, f"{where}.not_applicable")
        rest = [s.id for s in species if s.id not in main and s.id not in impurities]
        if set(explicit_na) & (set(main) | set(impurities)):
            raise ConfigError(f"{where}.not_applicable: overlaps main or impurities")
        stages.append(Stage(stage_id, tuple(main), tuple(impurities), tuple(rest)))
    for index, reaction in enumerate(reactions):
        if reaction.stage not in stage_ids:
            raise ConfigError(f"reactions[{index}].stage: unknown stage {reaction.stage!r}")
    return Route(
        id=route_id,
        version=str(document.get("version", "1")),
        name=document.get("name", route_id),
        source=source,
        guide=document.get("guide", ""),
        species=species,
        reactions=tuple(reactions),
        stages=tuple(stages),
        issues=tuple(issues),
    )


def _expand(items, species: tuple[Species, ...], where: str) -> list[str]:
    result: list[str] = []
    for position, item in enumerate(items):
        if item.startswith("@"):
            role = item[1:]
            if role not in ROLES:
                raise ConfigError(f"{where}[{position}]: {item!r} names no role ({', '.join(ROLES)})")
            matched = [s.id for s in species if s.role == role]
        else:
            if item not in {s.id for s in species}:
                raise ConfigError(f"{where}[{position}]: unknown species {item!r}")
            matched = [item]
        result.extend(m for m in matched if m not in result)
    return result


def derive_species(
    declared: list[Species], reactions: list[Reaction], names: dict[str, str]
) -> tuple[list[Species], list[RouteIssue]]:
    """Apply the derivation rules; skip structures the route already has."""
    by_id = {s.id: s for s in declared}
    known_smiles = {s.smiles: s.id for s in declared}
    derived: list[Species] = []
    issues: list[RouteIssue] = []

    def add(species_id: str, default_name: str, role: str, smiles: str, rule: str, sources):
        if smiles in known_smiles:
            return
        base, suffix = species_id, 2
        while species_id in by_id:
            species_id, suffix = f"{base}-{suffix}", suffix + 1
        item = make_species(
            species_id,
            names.get(species_id, default_name),
            role,
            smiles,
            f"derived species {species_id}",
            rule,
            tuple(sources),
        )
        by_id[species_id] = item
        known_smiles[item.smiles] = species_id
        derived.append(item)

    for reaction in reactions:
        if reaction.type in ("n-alkylation", "n-acylation"):
            product, reagent = by_id[reaction.product], by_id[reaction.reagent]
            word = "dialkylated" if reaction.type == "n-alkylation" else "diacylated"
            for smiles in derive.over_reaction(product.smiles, reagent.smiles):
                add(
                    word,
                    f"{product.name} + second {reagent.name}",
                    "dialkylated",
                    smiles,
                    f"over-{reaction.type.split('-')[1]}",
                    (product.id, reagent.id),
                )
            if reaction.type == "n-acylation":
                acid = derive.hydrolysed(reagent.smiles)
                if acid:
                    add(
                        f"hydrolysed-{reagent.id}",
                        f"acid from {reagent.name}",
                        "hydrolysis",
                        acid,
                        "hydrolysis",
                        (reagent.id,),
                    )
        elif reaction.type == "ring-closure":
            precursor, product = by_id[reaction.substrate], by_id[reaction.product]
            issues.extend(_ring_size_check(reaction, precursor, product))
            for key, smiles in derive.oligomers(precursor.smiles).items():
                add(
                    key,
                    f"{key.replace('-', ' ')} of {precursor.name}",
                    "oligomer",
                    smiles,
                    "oligomerization",
                    (precursor.id,),
                )
            acid = derive.hydrolysed(precursor.smiles)
            if acid:
                add(
                    f"hydrolysed-{precursor.id}",
                    f"acid from {precursor.name}",
                    "hydrolysis",
                    acid,
                    "hydrolysis",
                    (precursor.id,),
                )
        elif reaction.type == "boc-removal" and not reaction.substrate:
            protected = derive.boc_protected(by_id[reaction.product].smiles)
            if protected:
                add(
                    f"boc-{reaction.product}",
                    f"Boc-{by_id[reaction.product].name}",
                    "protected-intermediate",
                    protected,
                    "boc-retained",
                    (reaction.product,),
                )
    for item in list(declared):
        if item.role not in ("product", "intermediate"):
            continue
        for smiles in derive.ring_contracted(item.smiles):
            add(
                f"ring-contracted-{item.id}",
                f"{item.name}, ring one carbon short",
                "piperazine",
                smiles,
                "ring-contraction",
                (item.id,),
            )
    return derived, issues


def _ring_size_check(reaction: Reaction, precursor: Species, product: Species) -> list[RouteIssue]:
    closures = derive.ring_closures(precursor.smiles)
    if not closures:
        return [
            RouteIssue(
                "warning",
                reaction.stage,
                f"{precursor.name} has no primary amine and electrophile pair that "
                f"could close a ring; cannot check the ring size of {product.name}",
            )
        ]
    if product.smiles in closures:
        return []
    from rdkit.Chem import rdMolDescriptors

    from .species import mol_from_smiles

    closed = closures[0]
    closed_formula = rdMolDescriptors.CalcMolFormula(mol_from_smiles(closed, "ring check"))
    made = max(derive.ring_sizes(closed), default=0)
    wanted = max(derive.ring_sizes(product.smiles), default=0)
    return [
        RouteIssue(
            "warning",
            reaction.stage,
            f"ring size mismatch: {precursor.name} closes a {made}-membered ring "
            f"({closed_formula}, {closed}), but the product {product.name} has a {wanted}-membered "
            f"ring ({product.formula}); check the diamine chain length of the route",
        )
    ]
