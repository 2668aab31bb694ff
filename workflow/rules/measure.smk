rule provenance:
    output:
        "results/provenance.json",
    log:
        "logs/provenance.log",
    # in the sweep's allocation on a cluster: the provenance of the node that measured
    group:
        "sweep"
    conda:
        "../../environment.yml"
    resources:
        measure_slot=1,  # never alongside a measurement (profiles/default)
    shell:
        "coresweep env --out {output} 2> {log}"


# One job per group of points (e.g. every kernel and p of one backend), measured one after
# another in one process, each into its own raw file (written atomically; a rerun keeps the
# points already measured). The job record is the job's output, so Snakemake never deletes
# finished raw files of an interrupted job. `measure_slot=2` (the whole of profiles/default's)
# keeps measurement jobs from sharing cores locally; on a cluster each job books its largest
# p, its memory estimate, and `--exclusive`, and the jobs of the `sweep` group share one
# allocation (profiles/slurm).
rule measure:
    input:
        # the environment of the job's interpreter (none for the current interpreter)
        get_job_environment,
    output:
        "results/jobs/{experiment}/{job}.json",
    log:
        "logs/measure/{experiment}/{job}.log",
    wildcard_constraints:
        experiment="[a-z_]+",
        job="[A-Za-z0-9_.=+-]+",
    # before any table job that is ready: the short table jobs then run side by side at the
    # end (two at a time on 2 cores) instead of one at a time between measurements
    priority: 10
    group:
        "sweep"
    conda:
        "../../environment.yml"
    threads: get_job_threads
    resources:
        measure_slot=2,
        mem_mb=get_job_mem_mb,
        runtime=get_job_runtime,
    params:
        spec=get_job_spec,
        coresweep=get_job_command,
    shell:
        "{params.coresweep} measure --spec {params.spec:q} --cores {threads} "
        "--raw-dir results/raw/{wildcards.experiment} --record {output} 2> {log}"
