rule aggregate:
    input:
        get_job_records,
    output:
        # shown in Snakemake's report as HTML by the report rule (parquet is binary)
        parquet="results/tables/{experiment}.parquet",
        csv="results/tables/{experiment}.csv",
    log:
        "logs/aggregate/{experiment}.log",
    wildcard_constraints:
        experiment="[a-z_]+",
    conda:
        "../../environment.yml"
    resources:
        measure_slot=1,  # never alongside a measurement (profiles/default)
    params:
        raw=get_raw_files,
    shell:
        "coresweep aggregate --experiment {wildcards.experiment} --out {output.parquet} "
        "{params.raw} 2> {log}"
