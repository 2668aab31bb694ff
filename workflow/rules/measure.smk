rule provenance:
    output:
        "results/provenance.json",
    log:
        "logs/provenance.log",
    conda:
        "../../environment.yml"
    resources:
        measure_slot=1,  # never alongside a measurement (profiles/default)
    shell:
        "coresweep env --out {output} 2> {log}"


# One job per point. `measure_slot=1` (booked by profiles/default) keeps measurement jobs
# from sharing cores locally; on a cluster each job books `threads` = p cores exclusively.
rule measure:
    output:
        "results/raw/{experiment}/{point}.json",
    log:
        "logs/measure/{experiment}/{point}.log",
    wildcard_constraints:
        experiment="[a-z_]+",
        point="[A-Za-z0-9_.=+-]+",
    conda:
        "../../environment.yml"
    threads: get_point_threads
    resources:
        measure_slot=1,
        mem_mb=4000,
        runtime=30,
    params:
        spec=get_point_spec,
    shell:
        "coresweep measure --spec {params.spec:q} --cores {threads} --out {output} 2> {log}"
