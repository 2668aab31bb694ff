rule scaling_model:
    input:
        "results/tables/scaling.parquet",
    output:
        report(
            "results/tables/scaling_model.csv",
            caption="../report/scaling_model.rst",
            category="Scaling model",
        ),
    log:
        "logs/scaling_model.log",
    conda:
        "../../environment.yml"
    resources:
        measure_slot=1,  # never alongside a measurement (profiles/default)
    params:
        targets=" ".join(map(str, config["experiments"]["scaling"]["extrapolate_to"])),
    shell:
        "coresweep model --table {input} --to {params.targets} --out {output} 2> {log}"
