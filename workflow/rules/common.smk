import json

from snakemake.utils import validate

from snakemake.exceptions import WorkflowError

from coresweep import config as cs_config
from coresweep.measure.cores import Node, cluster_node
from coresweep.experiments import EXPERIMENTS, plan
from coresweep import interpreters as cs_interpreters
from coresweep.planning import jobs_of, speed_of, summary_record, summary_text

# Friendly errors first (naming the key and the allowed values), then Snakemake's own
# validation, which fills the same schema defaults.
config = cs_config.validate(config)
validate(config, schema="../schemas/config.schema.yaml")


def plan_node():
    """The node that runs the points, the same in a dry run, on the submit host and in
    every job. Locally (`--cores N`): this machine with N cores. With `--jobs N` (a cluster
    executor; its dry run too, where `workflow.cores` is 1) and inside every cluster job: a
    compute node of cores.max cores and cores.node_memory_gib (or the smallest node SLURM
    reports). Snakefile code cannot see the executor in a dry run, so `--jobs` decides.
    """
    cores = config["cores"]
    settings = workflow.resource_settings
    if workflow.is_main_process and settings.nodes is None:
        granted = settings.cores  # None with --report: plan as for all usable cores
        if granted is None and cores["max"] != "auto":
            granted = cores["max"]
        return Node.here(granted)
    try:
        return cluster_node(cores)
    except cs_config.ConfigError as exc:
        raise WorkflowError(
            f"{exc} (locally, give --cores N instead of --jobs N)"
        ) from None


NODE = plan_node()
POINTS = plan(config, NODE)
# the interpreters by label; every one but the current gets an environment (interpreters.smk)
INTERPRETERS = {i.label: i for i in cs_interpreters.of_config(config)}
JOBS = {(j.experiment, j.id): j for j in jobs_of(POINTS)}
ACTIVE_EXPERIMENTS = sorted({e for e, _ in JOBS})
if workflow.is_main_process:
    logger.info(summary_text(POINTS, NODE, speed_of(NODE)))


def get_job(wildcards):
    return JOBS[(wildcards.experiment, wildcards.job)]


def get_job_spec(wildcards):
    return get_job(wildcards).spec()


def get_job_threads(wildcards):
    """Cores a measurement job books: the largest p among its points."""
    return get_job(wildcards).threads


def get_job_mem_mb(wildcards):
    """The planner's peak-memory estimate of the job's largest point (a cluster books it)."""
    return max(get_job(wildcards).mem_mb, 500)


def get_job_runtime(wildcards):
    """Minutes a cluster books: twice the predicted duration, at least 10."""
    return max(10, round(2 * get_job(wildcards).seconds / 60))


def get_job_interpreter(wildcards):
    return INTERPRETERS[get_job(wildcards).interpreter]


def get_job_environment(wildcards):
    """The marker of the job's interpreter environment (none for the current interpreter)."""
    it = get_job_interpreter(wildcards)
    return [] if it.current else [str(it.marker)]


def get_job_command(wildcards):
    """`coresweep` of the job's interpreter (its environment's, with PYTHON_GIL for +gil)."""
    return get_job_interpreter(wildcards).measure_command()


def get_environment(wildcards):
    return INTERPRETERS[wildcards.interpreter]


def get_environment_request(wildcards):
    return get_environment(wildcards).request


def get_environment_key(wildcards):
    """The config key that asked for it (interpreters[i]), for error messages."""
    return get_environment(wildcards).key


def get_job_records(wildcards):
    return sorted(
        f"results/jobs/{e}/{j}.json" for e, j in JOBS if e == wildcards.experiment
    )


def get_raw_files(wildcards):
    """Raw files of an experiment: written by its jobs, one per point."""
    return " ".join(
        sorted(
            f"results/raw/{p.experiment}/{p.id}.json"
            for p in POINTS
            if p.experiment == wildcards.experiment
        )
    )


def get_tables(wildcards=None):
    return [f"results/tables/{e}.parquet" for e in ACTIVE_EXPERIMENTS]


def get_model_table():
    """The scaling model the report reads (it never refits)."""
    return (
        ["results/tables/scaling_model.csv"] if "scaling" in ACTIVE_EXPERIMENTS else []
    )


def get_run_record():
    """The validated config, the node planned for and the plan's summary as JSON: what the
    report shows and reruns."""
    return json.dumps(
        {
            "config": config,
            "cores": NODE.cores,
            "cluster": NODE.kind == "cluster",
            "plan": summary_record(POINTS, NODE),
            "planned": {
                e: sorted(p.id for p in POINTS if p.experiment == e)
                for e in ACTIVE_EXPERIMENTS
            },
        },
        sort_keys=True,
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
        *get_model_table(),
    ]
