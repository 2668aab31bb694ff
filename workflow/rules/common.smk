import json

from snakemake.utils import validate

from coresweep import config as cs_config
from coresweep.experiments import EXPERIMENTS, plan

# Friendly errors first (naming the key and the allowed values), then Snakemake's own
# validation, which fills the same schema defaults.
config = cs_config.validate(config)
validate(config, schema="../schemas/config.schema.yaml")

POINTS = {(p.experiment, p.id): p for p in plan(config, workflow.cores)}
ACTIVE_EXPERIMENTS = sorted({e for e, _ in POINTS})


def get_point_spec(wildcards):
    return POINTS[(wildcards.experiment, wildcards.point)].to_json()


def get_point_threads(wildcards):
    """Cores a measurement job uses: params "threads", else its p (a cluster books these)."""
    params = POINTS[(wildcards.experiment, wildcards.point)].params
    return params.get("threads", params.get("p", 1))


def get_raw_files(wildcards):
    return sorted(
        f"results/raw/{e}/{pid}.json" for e, pid in POINTS if e == wildcards.experiment
    )


def get_tables(wildcards=None):
    return [f"results/tables/{e}.parquet" for e in ACTIVE_EXPERIMENTS]


def get_claim_quotes():
    """Claim id -> the article's words, for the captions of Snakemake's report."""
    from coresweep.claims import CLAIMS

    return {c.id: c.quote for c in CLAIMS.values()}


def get_final_outputs():
    return [
        "results/claims.csv",
        "results/summary.md",
        "results/report/index.html",
        *get_tables(),
        *(
            ["results/tables/scaling_model.csv"]
            if "scaling" in ACTIVE_EXPERIMENTS
            else []
        ),
    ]
