# The run record: the validated config and the granted cores, so the report can show the
# config, tell partial tables from complete ones and print the exact command to rerun.
# Local: the granted cores are known only in the main Snakemake process.
localrules:
    run_record,
    report,


rule run_record:
    output:
        "results/run.json",
    log:
        "logs/run_record.log",
    conda:
        "../../environment.yml"
    params:
        record=get_run_record(),
    shell:
        "printf '%s\\n' {params.record:q} > {output} 2> {log}"


# Tables -> verdicts, plots and reports. Everything under results/report/ is written by
# `coresweep report`; the folders below are what `snakemake --report` shows: one category
# per claim (its verdict page and figures) and every table rendered as HTML.
rule report:
    input:
        tables=get_tables(),
        model=get_model_table(),
        provenance="results/provenance.json",
        run="results/run.json",
    output:
        claims=report(
            "results/claims.csv", caption="../report/claims.rst", category="Claims"
        ),
        claims_html=report(
            "results/report/claims.html",
            caption="../report/claims.rst",
            category="Claims",
        ),
        summary="results/summary.md",
        html=report(
            "results/report/index.html",
            caption="../report/html.rst",
            category="Report",
        ),
        plots=directory("results/plots"),
        per_claim=report(
            directory("results/report/claims"),
            patterns=["{claim}/{name}.svg", "{claim}/{name}.html"],
            caption="../report/claim.rst",
            category="{claim}",
            labels={"claim": "{claim}", "file": "{name}"},
        ),
        tables_html=report(
            directory("results/report/tables"),
            patterns=["{experiment}.html"],
            caption="../report/table.rst",
            category="Tables",
            labels={"experiment": "{experiment}"},
        ),
    log:
        "logs/report.log",
    conda:
        "../../environment.yml"
    params:
        claims=get_claims(),
    shell:
        "coresweep report --results results > {log} 2>&1"
