import json

from snakemake.utils import validate

from snakemake.exceptions import WorkflowError

from coresweep import config as cs_config
from coresweep.measure.cores import usable_cores
from coresweep.experiments import EXPERIMENTS, plan

# Friendly errors first (naming the key and the allowed values), then Snakemake's own
# validation, which fills the same schema defaults.
config = cs_config.validate(config)
validate(config, schema="../schemas/config.schema.yaml")


def granted_cores():
    """(cores, cluster?): `--cores` in a local run; on a cluster, cores.max — the submit
    host and every job (which re-plans on its node) must agree on the same points."""
    cap = config["cores"]["max"]
    if workflow.is_main_process:
        try:
            return workflow.cores, False
        except WorkflowError:
            # no --cores: a cluster executor, or `--report` (which plans the same points)
            return (usable_cores() if cap == "auto" else cap), True
    if cap == "auto":
        raise WorkflowError(
            "config key cores.max: on a cluster executor set it to the cores of a compute "
            "node (e.g. --config 'cores={max: 32}'), so that every job plans the same points"
        )
    return cap, True


POINTS = {(p.experiment, p.id): p for p in plan(config, *granted_cores())}
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


def get_run_record():
    """The validated config and the granted cores as JSON: what the report shows and reruns."""
    cores, cluster = granted_cores()
    return json.dumps(
        {"config": config, "cores": cores, "cluster": cluster}, sort_keys=True
    )


def get_claims():
    """Report category (C01..) -> claim id and the article's words, for the captions."""
    from coresweep.claims import CLAIMS
    from coresweep.report.native import category

    return {category(c.id): {"id": c.id, "quote": c.quote} for c in CLAIMS.values()}


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
