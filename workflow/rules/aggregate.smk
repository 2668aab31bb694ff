rule aggregate:
    input:
        get_raw_files,
    output:
        parquet=report(
            "results/tables/{experiment}.parquet",
            caption="../report/table.rst",
            category="Tables",
        ),
        csv="results/tables/{experiment}.csv",
    log:
        "logs/aggregate/{experiment}.log",
    wildcard_constraints:
        experiment="[a-z_]+",
    conda:
        "../../environment.yml"
    shell:
        "coresweep aggregate --experiment {wildcards.experiment} --out {output.parquet} "
        "{input} 2> {log}"
